import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SavedIndexes } from './saved-indexes.js';
import { Volume } from './volume.js';

const root = await mkdtemp(path.join(os.tmpdir(), 'larder-saved-indexes-'));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('SavedIndexes', () => {
  it('keeps an index per image beside the chunks, reads it back in a new instance, and removes it', async () => {
    const a = new SavedIndexes(root, 'ns1', { fsync: false });
    const bytes = randomBytes(5000);
    expect(await a.save('demo', 'vm/100/disk.fidx', bytes)).toBe(true);
    expect(await a.save('demo', 'vm/100/disk.fidx', bytes)).toBe(true);
    expect(a.copyPath('demo', 'vm/100/disk.fidx')).toBe(path.join(root, 'ns1', 'indexes', 'demo', 'vm%2F100%2Fdisk.fidx'));
    expect(path.dirname(new Volume(root, 'ns1').dir)).toBe(path.dirname(a.dir));
    const b = new SavedIndexes(root, 'ns1');
    const got = await b.load('demo', 'vm/100/disk.fidx');
    expect(got?.bytes.equals(bytes)).toBe(true);
    expect(await b.load('demo', 'vm/100/other.fidx')).toBeUndefined();
    expect(await b.usage()).toMatchObject({ count: 1 });
    await b.remove('demo', 'vm/100/disk.fidx');
    expect(await b.load('demo', 'vm/100/disk.fidx')).toBeUndefined();
    expect(await b.usage()).toEqual({ count: 0, bytes: 0 });
  });

  it('never returns a corrupt or truncated copy, and removes it', async () => {
    const s = new SavedIndexes(root, 'ns2', { fsync: false });
    const bytes = randomBytes(3000);
    await s.save('demo', 'a.fidx', bytes);
    const file = s.copyPath('demo', 'a.fidx');
    const raw = await readFile(file);
    raw.writeUInt8(raw.readUInt8(raw.length - 10) ^ 0x01, raw.length - 10);
    await writeFile(file, raw);
    expect(await new SavedIndexes(root, 'ns2').load('demo', 'a.fidx')).toBeUndefined();
    expect(await readdir(path.dirname(file))).toEqual([]);
    await s.save('demo', 'b.fidx', bytes);
    await writeFile(s.copyPath('demo', 'b.fidx'), (await readFile(s.copyPath('demo', 'b.fidx'))).subarray(0, 100));
    expect(await s.load('demo', 'b.fidx')).toBeUndefined();
    await writeFile(s.copyPath('demo', 'c.fidx'), 'not a copy at all');
    expect(await s.load('demo', 'c.fidx')).toBeUndefined();
  });

  it('stays within its limits: too large an index is not kept, the least recently saved go first', async () => {
    const s = new SavedIndexes(root, 'ns3', { fsync: false, limits: { maxIndexBytes: 4000, maxTotalBytes: 10_000, maxCount: 10 } });
    expect(await s.save('demo', 'big.fidx', randomBytes(5000))).toBe(false);
    expect(await s.load('demo', 'big.fidx')).toBeUndefined();
    for (const n of ['1', '2', '3', '4']) {
      await s.save('demo', `${n}.fidx`, randomBytes(3000));
      await new Promise((r) => setTimeout(r, 5));
    }
    const usage = await s.usage();
    expect(usage.bytes).toBeLessThanOrEqual(10_000);
    expect(await s.load('demo', '1.fidx')).toBeUndefined();
    expect(await s.load('demo', '4.fidx')).toBeDefined();
    // A very long name is kept under a hashed file name.
    const long = `${'x/'.repeat(150)}disk.fidx`;
    await s.save('demo', long, randomBytes(100));
    expect(path.basename(s.copyPath('demo', long))).toMatch(/^~[0-9a-f]{64}$/);
    expect((await s.load('demo', long))?.bytes.length).toBe(100);
  });
});
