import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ResolvedDatastore } from '@larder/config';
import { CA_FORMAT_SHA512_256, CAIBX_DEFAULT_FEATURE_FLAGS, digestFromHex, encodeCasyncChunk, encodeDataBlob, parseIndex, writeCaibx, writeFixedIndex } from '@larder/formats';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StatusError } from '@larder/errors';
import { OpenChunkFiles, type ChunkOpener } from './open-chunk-files.js';
import { DecodedChunkCache } from './decoded-cache.js';
import { RecentChunks, type ImageInfo } from './image-catalog.js';
import { ImageReader, newCursor } from './image-reader.js';
import { DecodedSpill } from './decoded-spill.js';
import { SpillScrubber } from './spill-scrubber.js';

const CHUNK = 64 * 1024;
let dir: string;
let files: OpenChunkFiles;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Chunk files `<dir>/<digest>` opened for real; `gates` hold an open back, `opens` lists every open. */
function opener(): ChunkOpener & { opens: string[]; gates: Map<string, Promise<void>> } {
  const o = {
    opens: [] as string[],
    gates: new Map<string, Promise<void>>(),
    async open(_store: string, digest: string) {
      o.opens.push(digest);
      await o.gates.get(digest);
      return { fd: openSync(path.join(dir, digest), 'r'), hit: true };
    },
    recordUse() {},
  };
  return o;
}

/** Store chunks (plain bytes; `stored` decides the file) and return their digests. */
function store(chunks: Buffer[], encode: (plain: Buffer, i: number) => Buffer | undefined): string[] {
  return chunks.map((plain, i) => {
    const d = sha256(plain);
    const bytes = encode(plain, i);
    if (bytes) writeFileSync(path.join(dir, d), bytes);
    return d;
  });
}

function pbsImage(chunks: Buffer[], digests: string[]): ImageInfo {
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const index = parseIndex('t.fidx', writeFixedIndex({ size, chunkSize: CHUNK, digests: digests.map(digestFromHex) }));
  return info(index, 'pbs');
}

function info(index: ImageInfo['index'], layout: 'pbs' | 'casync'): ImageInfo {
  const ds = { name: 's', layout, digest: 'sha256', bucket: 'b', prefix: '' } as unknown as ResolvedDatastore;
  return { store: 's', name: 't', ds, index, size: index.size, etag: '"t"', indexBytes: Buffer.alloc(0), recent: new RecentChunks() };
}

function reader(image: ImageInfo, src: ChunkOpener & { opens: string[] }, cache = new DecodedChunkCache(64 * 2 ** 20)) {
  files = new OpenChunkFiles(src, { idleMs: 0 });
  return new ImageReader(image, { chunks: src, files, cache, maxReadahead: () => 1 });
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'image-reader-'));
});

afterEach(() => {
  files?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ImageReader, pbs', () => {
  // Plain random, zeros (never stored), compressible (a zstd blob), plain random, and a short plain tail.
  const chunks = [randomBytes(CHUNK), Buffer.alloc(CHUNK), Buffer.alloc(CHUNK, 'abc'), randomBytes(CHUNK), randomBytes(1000)];
  const image = Buffer.concat(chunks);

  it('reads plain blob ranges straight from the file and compressed blobs through the decoded cache', async () => {
    const digests = store(chunks, (plain, i) => (i === 1 ? undefined : encodeDataBlob(plain, { compress: i === 2 })));
    const src = opener();
    const cache = new DecodedChunkCache(64 * 2 ** 20);
    const r = reader(pbsImage(chunks, digests), src, cache);
    const ranges: [number, number][] = [
      [0, 1],
      [100, 4096],
      [CHUNK - 10, 20], // plain into zeros
      [2 * CHUNK + 5, 300], // inside the compressed chunk
      [2 * CHUNK - 7, CHUNK + 50], // zeros, compressed, plain
      [3 * CHUNK + 12345, CHUNK - 12345 + 1000], // plain to the end of the tail
      [0, image.length],
    ];
    for (const [offset, length] of ranges) {
      const target = Buffer.alloc(length + 20, 0xee);
      await r.readInto(offset, length, () => target.subarray(10, 10 + length));
      expect(target.subarray(10, 10 + length).equals(image.subarray(offset, offset + length)), `readInto ${offset}+${length}`).toBe(true);
      expect(target.subarray(0, 10).every((b) => b === 0xee) && target.subarray(10 + length).every((b) => b === 0xee)).toBe(true);
      expect((await r.read(offset, length)).equals(image.subarray(offset, offset + length)), `read ${offset}+${length}`).toBe(true);
    }
    // Only the compressed chunk was decoded; the zero chunk was never opened; each file was opened once.
    expect(cache.misses).toBe(1);
    expect(src.opens).not.toContain(digests[1]);
    expect(new Set(src.opens).size).toBe(src.opens.length);
  });

  it('decodes a plain blob whose size does not match the index, and fails it as 502', async () => {
    // A plain blob of the wrong length cannot be read in place: it goes through decoding, which finds the mismatch.
    const digests = store(chunks, (plain, i) => (i === 1 ? undefined : encodeDataBlob(i === 3 ? plain.subarray(1) : plain, { compress: false })));
    const r = reader(pbsImage(chunks, digests), opener());
    expect((await r.read(0, CHUNK)).equals(chunks[0] as Buffer)).toBe(true);
    await expect(r.read(3 * CHUNK, 10)).rejects.toMatchObject({ status: 502 });
  });

  it('answers 416 past the end', async () => {
    const digests = store(chunks, (plain) => encodeDataBlob(plain, { compress: false }));
    const r = reader(pbsImage(chunks, digests), opener());
    await expect(r.readInto(image.length, 1, () => Buffer.alloc(1))).rejects.toBeInstanceOf(StatusError);
    await expect(r.read(image.length - 10, 20)).rejects.toMatchObject({ status: 416 });
  });

  it('takes the buffer only once every chunk is at hand, and none when a chunk is missing', async () => {
    const digests = store(chunks, (plain, i) => (i === 0 ? undefined : encodeDataBlob(plain, { compress: i === 2 })));
    const src = opener();
    let openGate!: () => void;
    src.gates.set(digests[3] as string, new Promise<void>((r) => (openGate = r)));
    const r = reader(pbsImage(chunks, digests), src);
    let taken = 0;
    let settled = false;
    const p = r.readInto(0, image.length, () => (taken++, Buffer.alloc(image.length))).finally(() => (settled = true));
    await new Promise((res) => setTimeout(res, 30));
    expect(settled).toBe(false); // chunk 0 failed at once, chunk 3 is still being opened
    openGate();
    await expect(p).rejects.toThrow(/ENOENT/);
    expect(taken).toBe(0);
    expect(files.openCount).toBe(3); // chunks 2 to 4 stay open for the next read, with no reference left

    // A slow open: the buffer is asked for after it, once.
    const later = Array.from({ length: 3 }, () => randomBytes(CHUNK));
    const d2 = store(later, (plain) => encodeDataBlob(plain, { compress: false }));
    const src2 = opener();
    let gate2!: () => void;
    src2.gates.set(d2[1] as string, new Promise<void>((res) => (gate2 = res)));
    const r2 = reader(pbsImage(later, d2), src2);
    const out = Buffer.alloc(3 * CHUNK);
    const p2 = r2.readInto(0, 3 * CHUNK, () => (taken++, out));
    await new Promise((res) => setTimeout(res, 30));
    expect(taken).toBe(0);
    gate2();
    await p2;
    expect(taken).toBe(1);
    expect(out.equals(Buffer.concat(later))).toBe(true);
  });

  it('opens plain chunks ahead of a sequential reader without reading them, and nothing for a random one', async () => {
    const many = Array.from({ length: 24 }, () => randomBytes(CHUNK));
    const digests = store(many, (plain) => encodeDataBlob(plain, { compress: false }));
    const src = opener();
    const cache = new DecodedChunkCache(64 * 2 ** 20);
    const img = pbsImage(many, digests);
    const r = reader(img, src, cache);
    const cursor = newCursor();
    for (let off = 0; off < 4 * CHUNK; off += 16384) await r.readInto(off, 16384, () => Buffer.alloc(16384), cursor);
    await new Promise((res) => setTimeout(res, 10));
    expect(new Set(src.opens).size).toBeGreaterThan(8); // 4 read, the rest opened ahead
    expect(cache.usedBytes).toBe(0); // nothing read into memory

    const src2 = opener();
    const random = reader(pbsImage(many, digests), src2);
    const c2 = newCursor();
    for (const i of [20, 15, 10, 5, 0]) await random.readInto(i * CHUNK + 100, 1000, () => Buffer.alloc(1000), c2);
    expect(src2.opens).toEqual([20, 15, 10, 5, 0].map((i) => digests[i]));
  });
});

describe('ImageReader, a chunk file that fails to decode although it looked unchanged', () => {
  it('is quarantined and read again once (the fresh copy is served); a second failure is a 502', async () => {
    const chunks = [Buffer.alloc(CHUNK, 'abc'), randomBytes(CHUNK)];
    const good = chunks.map((c) => encodeDataBlob(c));
    const digests = store(chunks, (_plain, i) => good[i]);
    // Rot below the file system: the compressed blob's bytes differ, as no open noticed (no verification here).
    const rotten = Buffer.from(good[0] as Buffer);
    rotten.writeUInt8(rotten.readUInt8(rotten.length >> 1) ^ 0x10, rotten.length >> 1);
    writeFileSync(path.join(dir, digests[0] as string), rotten);
    const quarantined: string[] = [];
    let refetched = true;
    const src = Object.assign(opener(), {
      async quarantine(_store: string, digest: string, _fd: number, reason: string) {
        quarantined.push(`${digest}: ${reason}`);
        // The chunk-fetchers bring a fresh copy (or, below, the same bad one again).
        writeFileSync(path.join(dir, digest), refetched ? (good[0] as Buffer) : rotten);
        files.forget(`s/${digest}`);
      },
    });
    const r = reader(pbsImage(chunks, digests), src, new DecodedChunkCache(1));
    expect((await r.read(0, 2 * CHUNK)).equals(Buffer.concat(chunks))).toBe(true);
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]).toMatch(/CRC32 mismatch/);
    writeFileSync(path.join(dir, digests[0] as string), rotten);
    files.forget(`s/${digests[0]}`);
    refetched = false;
    await expect(r.read(0, 10)).rejects.toMatchObject({ status: 502 });
    expect(quarantined).toHaveLength(2);
  });
});

describe('ImageReader, casync', () => {
  it('reads decoded chunks of any size, synthesizing zero chunks without opening them', async () => {
    const chunks = [randomBytes(50_000), Buffer.alloc(70_001), randomBytes(123_456), Buffer.alloc(99_999, 'xyz'), randomBytes(17)];
    const digests = store(chunks, (plain, i) => (i === 1 ? undefined : encodeCasyncChunk(plain)));
    let end = 0;
    const entries = chunks.map((c, i) => ({ end: (end += c.length), digest: digestFromHex(digests[i] as string) }));
    const index = parseIndex('t.caibx', writeCaibx({ entries, featureFlags: CAIBX_DEFAULT_FEATURE_FLAGS & ~CA_FORMAT_SHA512_256 }));
    const src = opener();
    const r = reader(info(index, 'casync'), src);
    const image = Buffer.concat(chunks);
    expect((await r.read(0, image.length)).equals(image)).toBe(true);
    for (let k = 0; k < 30; k++) {
      const offset = Math.floor(Math.random() * image.length);
      const length = 1 + Math.floor(Math.random() * (image.length - offset));
      const target = Buffer.alloc(length);
      await r.readInto(offset, length, () => target, newCursor());
      expect(target.equals(image.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
    }
    expect(src.opens).not.toContain(digests[1]);
  });

  it('serves warm reads of compressed chunks from their decoded copies on the volume, without opening the chunk files', async () => {
    const chunks = [randomBytes(50_000), Buffer.alloc(70_001), Buffer.alloc(123_456, 'abc'), randomBytes(99_999), randomBytes(17)];
    const digests = store(chunks, (plain, i) => (i === 1 ? undefined : encodeCasyncChunk(plain)));
    let end = 0;
    const entries = chunks.map((c, i) => ({ end: (end += c.length), digest: digestFromHex(digests[i] as string) }));
    const index = parseIndex('t.caibx', writeCaibx({ entries, featureFlags: CAIBX_DEFAULT_FEATURE_FLAGS & ~CA_FORMAT_SHA512_256 }));
    const src = opener();
    const spill = new DecodedSpill(path.join(dir, 'spill'), () => 2 ** 20);
    files = new OpenChunkFiles(src, { idleMs: 0 });
    const cache = new DecodedChunkCache(64 * 2 ** 20);
    const r = new ImageReader(info(index, 'casync'), { chunks: src, files, cache, spill, maxReadahead: () => 1 });
    const image = Buffer.concat(chunks);
    expect((await r.read(0, image.length)).equals(image)).toBe(true);
    for (let i = 0; i < 200 && spill.count < 4; i++) await new Promise((res) => setTimeout(res, 5));
    expect(spill.count).toBe(4); // every chunk but the zero one
    expect(cache.usedBytes).toBe(0); // their memory given back once on the volume
    const opens = src.opens.length;
    for (let k = 0; k < 30; k++) {
      const offset = Math.floor(Math.random() * image.length);
      const length = 1 + Math.floor(Math.random() * (image.length - offset));
      const target = Buffer.alloc(length);
      await r.readInto(offset, length, () => target, newCursor());
      expect(target.equals(image.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true);
      // read() too (HTTP Range), also within one chunk.
      const short = Math.min(length, 1 + (k % 7) * 1000);
      expect((await r.read(offset, short)).equals(image.subarray(offset, offset + short)), `read ${offset}+${short}`).toBe(true);
    }
    expect(src.opens.length).toBe(opens);
    spill.close();
  });

  it('serves the right bytes once the scrubber found a decoded copy rotted on the volume: dropped, counted, decoded again', async () => {
    const chunks = [randomBytes(150_000), Buffer.alloc(200_000, 'rot'), randomBytes(90_000)];
    const digests = store(chunks, (plain) => encodeCasyncChunk(plain));
    let end = 0;
    const entries = chunks.map((c, i) => ({ end: (end += c.length), digest: digestFromHex(digests[i] as string) }));
    const index = parseIndex('t.caibx', writeCaibx({ entries, featureFlags: CAIBX_DEFAULT_FEATURE_FLAGS & ~CA_FORMAT_SHA512_256 }));
    const src = opener();
    const spill = new DecodedSpill(path.join(dir, 'spill'), () => 2 ** 20);
    files = new OpenChunkFiles(src, { idleMs: 0 });
    const r = new ImageReader(info(index, 'casync'), { chunks: src, files, cache: new DecodedChunkCache(64 * 2 ** 20), spill, maxReadahead: () => 1 });
    const image = Buffer.concat(chunks);
    expect((await r.read(0, image.length)).equals(image)).toBe(true);
    for (let i = 0; i < 200 && spill.count < 3; i++) await new Promise((res) => setTimeout(res, 5));
    expect(spill.count).toBe(3);
    // Flip a byte of the middle chunk's copy (its segment is unlinked: written through the descriptor).
    const key = `s/${digests[1]}`;
    const e = spill.acquire(key)!;
    const flip = 70_000;
    const byte = Buffer.alloc(1);
    readSync(e.fd, byte, 0, 1, e.offset + flip);
    writeSync(e.fd, Buffer.from([byte[0]! ^ 0x01]), 0, 1, e.offset + flip);
    spill.release(e);
    expect(await new SpillScrubber(spill, () => 0).pass()).toBe(1);
    expect(spill.corrupt).toBe(1);
    const opens = src.opens.length;
    // A read across the rotted block and into the next chunk: the right bytes, from the chunk file decoded again.
    const at = chunks[0]!.length + 60_000;
    const target = Buffer.alloc(200_000);
    await r.readInto(at, target.length, () => target, newCursor());
    expect(target.equals(image.subarray(at, at + target.length))).toBe(true);
    expect(spill.corrupt).toBe(1);
    expect(src.opens.length).toBe(opens + 1);
    // Written anew from that decode: later reads are served from the volume again, and right.
    for (let i = 0; i < 200 && !spill.has(key); i++) await new Promise((res) => setTimeout(res, 5));
    expect(spill.has(key)).toBe(true);
    expect((await r.read(0, image.length)).equals(image)).toBe(true);
    expect(spill.corrupt).toBe(1);
    expect(src.opens.length).toBe(opens + 1);
    spill.close();
  });
});
