// Cross-checks against the real `casync` binary (Debian package casync); skipped when it is absent.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCaibx } from './caibx.js';
import { writeCaibx } from './caibx-writer.js';
import { decodeAndVerifyChunk, encodeChunk } from './chunk.js';
import { FormatError } from './errors.js';
import { HAVE_CASYNC, casync, casyncStorePath, mixedData, rng } from './test-helpers.js';
import type { CaibxIndex, DigestAlgorithm } from './types.js';

const SIZE = 3 * 1024 * 1024 - 123;

describe.skipIf(!HAVE_CASYNC)('real casync', () => {
  let dir = '';
  let file: Buffer = Buffer.alloc(0);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'larder-formats-casync-'));
    file = mixedData(rng(2024), SIZE);
    writeFileSync(join(dir, 'file'), file);
    casync(['make', '--store=store', 'default.caibx', 'file'], dir);
    casync(['make', '--digest=sha256', '--store=store256', 'sha256.caibx', 'file'], dir);
    casync(['make', '--compression=gzip', '--store=storegz', 'gzip.caibx', 'file'], dir);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Reads every chunk of idx from store, verifies it, and returns the reassembled image. */
  function reassemble(idx: CaibxIndex, store: string, alg: DigestAlgorithm): Buffer {
    const parts: Buffer[] = [];
    for (let i = 0; i < idx.chunkCount; i++) {
      const id = idx.chunkDigest(i);
      const obj = readFileSync(join(dir, store, casyncStorePath(id)));
      const plain = decodeAndVerifyChunk('casync', id, obj, alg);
      expect(plain.length).toBe(idx.chunkEnd(i) - idx.chunkStart(i));
      parts.push(plain);
    }
    return Buffer.concat(parts);
  }

  it('parses `casync make` output and reassembles the file byte for byte', () => {
    const raw = readFileSync(join(dir, 'default.caibx'));
    const idx = parseCaibx(raw);
    expect(idx.size).toBe(SIZE);
    expect(idx.chunkCount).toBe((raw.length - 48 - 16 - 40) / 40);
    expect(idx.chunkCount).toBeGreaterThan(10);
    // casync make sets EXCLUDE_NODUMP | SHA512_256 | EXCLUDE_FILE and its default 16K/64K/256K sizes.
    expect(idx.featureFlags).toBe(0xb000000000000000n);
    expect(idx.digestAlgorithm).toBe('sha512-256');
    expect([idx.chunkSizeMin, idx.chunkSizeAvg, idx.chunkSizeMax]).toEqual([16384, 65536, 262144]);
    for (let i = 0; i < idx.chunkCount; i++) {
      expect(idx.chunkStart(i)).toBe(i === 0 ? 0 : idx.chunkEnd(i - 1));
      expect(idx.chunkEnd(i) - idx.chunkStart(i)).toBeLessThanOrEqual(idx.chunkSizeMax);
    }
    expect(reassemble(idx, 'store', 'sha512-256').equals(file)).toBe(true);
  });

  it('casync writes zstd frames without a content size', () => {
    const idx = parseCaibx(readFileSync(join(dir, 'default.caibx')));
    const obj = readFileSync(join(dir, 'store', casyncStorePath(idx.chunkDigest(0))));
    expect(obj.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    expect(obj[4]! & 0xe0).toBe(0); // frame header: no Frame_Content_Size field, no Single_Segment flag
  });

  it('--digest=sha256 clears the SHA512_256 flag and ids become SHA-256', () => {
    const idx = parseCaibx(readFileSync(join(dir, 'sha256.caibx')));
    const dflt = parseCaibx(readFileSync(join(dir, 'default.caibx')));
    expect(idx.featureFlags).toBe(0x9000000000000000n);
    expect(idx.digestAlgorithm).toBe('sha256');
    expect(idx.chunkCount).toBe(dflt.chunkCount); // same boundaries, different ids
    expect(idx.chunkEnd(0)).toBe(dflt.chunkEnd(0));
    expect(idx.chunkDigest(0)).not.toBe(dflt.chunkDigest(0));
    expect(reassemble(idx, 'store256', 'sha256').equals(file)).toBe(true);
    const obj = readFileSync(join(dir, 'store256', casyncStorePath(idx.chunkDigest(0))));
    expect(() => decodeAndVerifyChunk('casync', idx.chunkDigest(0), obj)).toThrow(FormatError);
  });

  it('--compression=gzip stores decode too (the index is identical)', () => {
    const raw = readFileSync(join(dir, 'gzip.caibx'));
    expect(raw.equals(readFileSync(join(dir, 'default.caibx')))).toBe(true);
    expect(reassemble(parseCaibx(raw), 'storegz', 'sha512-256').equals(file)).toBe(true);
  });

  it('writeCaibx reproduces casync’s own index byte for byte', () => {
    for (const name of ['default.caibx', 'sha256.caibx']) {
      const raw = readFileSync(join(dir, name));
      const idx = parseCaibx(raw);
      const entries = Array.from({ length: idx.chunkCount }, (_, i) => ({ end: idx.chunkEnd(i), digest: idx.chunkDigestBytes(i) }));
      expect(writeCaibx({ entries, featureFlags: idx.featureFlags }).equals(raw)).toBe(true);
    }
  });

  it('`casync extract` accepts an index and store written by this package', () => {
    for (const alg of ['sha512-256', 'sha256'] as const) {
      const store = join(dir, `own-${alg}`);
      const entries = [];
      for (let off = 0; off < file.length; off += 100_000) {
        const part = file.subarray(off, Math.min(off + 100_000, file.length));
        const { digest, bytes } = encodeChunk('casync', part, alg);
        const path = join(store, casyncStorePath(digest));
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, bytes);
        entries.push({ end: off + part.length, digest: Buffer.from(digest, 'hex') });
      }
      const featureFlags = alg === 'sha256' ? 0x9000000000000000n : undefined;
      writeFileSync(join(dir, `own-${alg}.caibx`), writeCaibx({ entries, featureFlags }));
      casync(['extract', `--store=own-${alg}`, `own-${alg}.caibx`, `out-${alg}.bin`], dir);
      expect(readFileSync(join(dir, `out-${alg}.bin`)).equals(file)).toBe(true);
    }
  });

  it('`casync extract` accepts an empty index written by this package', () => {
    writeFileSync(join(dir, 'empty.caibx'), writeCaibx({ entries: [] }));
    casync(['extract', '--store=store', 'empty.caibx', 'empty.bin'], dir);
    expect(readFileSync(join(dir, 'empty.bin')).length).toBe(0);
  });
});
