import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIGEST_BYTES, DigestFileWriter, DigestReader, DigestSet, sortUnique } from './digest-file.js';

const dirs: string[] = [];
async function workDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'larder-digests-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function hexSortedUnique(ds: Buffer[]): string[] {
  return [...new Set(ds.map((d) => d.toString('hex')))].sort();
}

describe('digest file', () => {
  it('sorts and deduplicates one run in memory', () => {
    const ds = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const all = [ds[2]!, ds[0]!, ds[2]!, ds[1]!, ds[0]!];
    const out = sortUnique(Buffer.concat(all));
    const got = Array.from({ length: out.length / DIGEST_BYTES }, (_, i) => out.subarray(i * 32, i * 32 + 32).toString('hex'));
    expect(got).toEqual(hexSortedUnique(all));
  });

  it('merges many runs into one sorted deduplicated file, removes the runs, answers membership', async () => {
    const dir = await workDir();
    // Runs of 64 digests; duplicates within and across runs; shared 4-byte heads to exercise the full comparison.
    const w = new DigestFileWriter(dir, 'marked', 64 * DIGEST_BYTES);
    const distinct: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const d = randomBytes(32);
      if (i % 10 === 0) d.writeUInt32BE(0xabcdef01, 0);
      distinct.push(d);
    }
    const added: Buffer[] = [];
    for (let i = 0; i < 3000; i++) added.push(distinct[(i * 7919) % distinct.length]!);
    for (const d of added) await w.add(d);
    expect(w.added).toBe(3000);
    const { file, count } = await w.finish();
    expect(count).toBe(1000);
    expect(await readdir(dir)).toEqual(['marked']);
    const bytes = await readFile(file);
    expect(bytes.length).toBe(1000 * DIGEST_BYTES);
    const reader = await DigestReader.open(file);
    const got: string[] = [];
    for (let d = reader.next(); d; d = reader.next()) got.push(d.toString('hex'));
    await reader.close();
    expect(got).toEqual(hexSortedUnique(distinct));

    const set = await DigestSet.open(file);
    try {
      expect(set.count).toBe(1000);
      for (const d of distinct) expect(set.has(d)).toBe(true);
      for (let i = 0; i < 500; i++) expect(set.has(randomBytes(32))).toBe(false);
      expect(set.has(Buffer.alloc(32, 0))).toBe(false);
      expect(set.has(Buffer.alloc(32, 0xff))).toBe(false);
    } finally {
      set.close();
    }
  });

  it('writes an empty file when nothing was added', async () => {
    const dir = await workDir();
    const { file, count } = await new DigestFileWriter(dir, 'empty').finish();
    expect(count).toBe(0);
    const set = await DigestSet.open(file);
    expect(set.has(randomBytes(32))).toBe(false);
    set.close();
  });

  it('refuses a digest of the wrong length', async () => {
    const w = new DigestFileWriter(await workDir(), 'x');
    expect(() => w.add(randomBytes(31))).toThrow(/32 bytes/);
  });
});
