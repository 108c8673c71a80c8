import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CAIBX_DEFAULT_FEATURE_FLAGS, digestFromHex, writeCaibx, writeFixedIndex } from '@larder/formats';
import { indexObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

// Bit rot on every read path: a byte flipped in a cached chunk file is never served. The file is quarantined
// (removed from volume and index, counted), the chunk fetched again from S3, and the read answered right.

const run = promisify(execFile);
const PBS_CHUNK = 256 * 1024;
const CAS_CHUNK = 64 * 1024;

interface Chunk {
  store: 'demo' | 'cas';
  plain: Buffer;
  digest: string;
  /** The object as stored in S3 (and on the volume). */
  bytes: Buffer;
  /** `bucket/key` of the object, as the embedded S3 counts GETs. */
  key: string;
}

let stack: TestStack;
/** Each image: an uncompressed (random) chunk, a compressed one, and another uncompressed one. */
const images: Record<'demo' | 'cas', { name: string; chunks: Chunk[]; image: Buffer }> = {
  demo: { name: 'rot.fidx', chunks: [], image: Buffer.alloc(0) },
  cas: { name: 'rot.caibx', chunks: [], image: Buffer.alloc(0) },
};

beforeAll(async () => {
  // A decoded-chunk cache too small to keep anything, and no decoded copies on the volume: every image read of a compressed or casync chunk reads its file.
  stack = await startTestStack({ fetchers: 1, config: { images: { decodedCacheSize: 1, decodedSpillSize: 0 } } });
  for (const store of ['demo', 'cas'] as const) {
    const size = store === 'demo' ? PBS_CHUNK : CAS_CHUNK;
    const plains = [randomBytes(size), Buffer.alloc(size, `larder ${store} `), randomBytes(size)];
    const img = images[store];
    for (const plain of plains) img.chunks.push({ store, plain, ...(await stack.putChunk(store, plain)) });
    img.image = Buffer.concat(plains);
    const digests = img.chunks.map((c) => digestFromHex(c.digest));
    const index =
      store === 'demo'
        ? writeFixedIndex({ size: img.image.length, chunkSize: PBS_CHUNK, digests })
        : writeCaibx({ entries: digests.map((digest, i) => ({ end: (i + 1) * CAS_CHUNK, digest })), featureFlags: CAIBX_DEFAULT_FEATURE_FLAGS });
    const ds = stack.ds(store);
    await putObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, img.name), index);
  }
}, 60_000);
afterAll(() => stack?.cleanup());

const chunkUrl = (c: Chunk) =>
  c.store === 'cas' ? `${stack.gateway()}/casync/cas/${c.digest.slice(0, 4)}/${c.digest}.cacnk` : `${stack.gateway()}/v1/stores/${c.store}/chunks/${c.digest}`;
const gets = (c: Chunk) => stack.s3?.stats.getsByKey.get(c.key) ?? 0;
const quarantined = async () => (await stack.deps.index.stats()).quarantined ?? 0;

/** Flip one byte in the middle of a chunk's file on the volume (a write: its mtime and ctime move). */
async function flip(c: Chunk): Promise<void> {
  // File times are kept at the kernel's clock tick: let one pass since the file was written.
  await new Promise((r) => setTimeout(r, 20));
  const fh = await open(stack.deps.volume.chunkPath(c.store, c.digest), 'r+');
  try {
    const at = Math.floor((await fh.stat()).size / 2);
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = (b[0] as number) ^ 0x40;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

/** Make sure a chunk is on the volume (one GET from S3 if it was not). */
async function cache(c: Chunk): Promise<void> {
  const res = await fetchBytes(chunkUrl(c));
  expect(res.status).toBe(200);
  expect(await stack.deps.volume.hasChunk(c.store, c.digest)).toBe(true);
}

/** Read chunk `i` of an image through one path; returns the bytes of that chunk as served. */
async function readThrough(pathName: 'chunk route' | 'HTTP Range' | 'NBD', c: Chunk, i: number): Promise<Buffer> {
  const img = images[c.store];
  const size = c.plain.length;
  if (pathName === 'chunk route') {
    const res = await fetchBytes(chunkUrl(c));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-larder-cache')).toBe('miss'); // a hit whose file is corrupt is a miss
    return res.body;
  }
  if (pathName === 'HTTP Range') {
    // A range across the chunk's boundaries: part of the chunk before, the whole chunk, part of the one after.
    const start = Math.max(0, i * size - 100);
    const end = Math.min(img.image.length, (i + 1) * size + 100) - 1;
    const res = await fetchBytes(`${stack.gateway()}/v1/stores/${c.store}/images/${img.name}`, { headers: { range: `bytes=${start}-${end}` } });
    expect(res.status).toBe(206);
    expect(res.body.equals(img.image.subarray(start, end + 1))).toBe(true);
    return res.body.subarray(i * size - start, i * size - start + size);
  }
  const out = path.join(stack.dir, `nbd-${c.digest.slice(0, 8)}.out`);
  await run('nbdcopy', [`nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/${c.store}/${img.name}`, out]);
  const whole = await readFile(out);
  expect(whole.equals(img.image)).toBe(true);
  return whole.subarray(i * size, (i + 1) * size);
}

const kinds = [
  ['uncompressed pbs blob', 'demo', 0],
  ['compressed pbs blob', 'demo', 1],
  ['casync chunk', 'cas', 0],
] as const;

describe('bit rot on every read path: zero wrong bytes served', () => {
  for (const [kind, store, i] of kinds) {
    for (const via of ['chunk route', 'HTTP Range', 'NBD'] as const) {
      it(`${kind}, ${via}: the right bytes, the file quarantined and fetched again, counted`, async () => {
        const c = images[store].chunks[i] as Chunk;
        await cache(c);
        // Read once through the path first, so that an image path holds the file (open, proven) when it rots.
        if (via !== 'chunk route') await readThrough(via, c, i);
        await flip(c);
        const [getsBefore, quarantinedBefore] = [gets(c), await quarantined()];
        const served = await readThrough(via, c, i);
        expect(served.equals(via === 'chunk route' ? c.bytes : c.plain)).toBe(true);
        expect(gets(c)).toBe(getsBefore + 1);
        expect(await quarantined()).toBe(quarantinedBefore + 1);
        // The copy on the volume is the good one again.
        expect((await readFile(stack.deps.volume.chunkPath(c.store, c.digest))).equals(c.bytes)).toBe(true);
      });
    }
  }

  it('a rotten chunk read by many clients at once: every one gets the right bytes, one GET from S3', async () => {
    const c = images.demo.chunks[2] as Chunk;
    await cache(c);
    await flip(c);
    const before = gets(c);
    const reads = await Promise.all(Array.from({ length: 8 }, () => fetchBytes(chunkUrl(c))));
    for (const r of reads) expect(r.body.equals(c.bytes)).toBe(true);
    expect(gets(c)).toBe(before + 1);
  });

  it('reports verifyFailures and quarantined in /v1/status', async () => {
    const s = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString()) as Record<string, unknown>;
    expect(s.quarantined).toBeGreaterThanOrEqual(10);
    expect(s.verifyFailures).toBeGreaterThanOrEqual(10);
    expect(s.scrub).toMatchObject({ rateBytesPerSec: 0 });
  });
});

describe('bodies from S3 that fail verification', () => {
  it('a body corrupted once in transit is fetched again on a new connection and served', async () => {
    const plain = randomBytes(100_000);
    const { digest, key, bytes } = await stack.putChunk('demo', plain);
    const before = (await stack.deps.index.stats()).verifyFailures ?? 0;
    stack.s3?.setFault({ corrupt: { times: 1, key: digest } });
    try {
      const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
      expect(res.status).toBe(200);
      expect(res.body.equals(bytes)).toBe(true);
    } finally {
      stack.s3?.setFault(undefined);
    }
    expect(stack.s3?.stats.getsByKey.get(key)).toBe(2);
    expect((await stack.deps.index.stats()).verifyFailures).toBe(before + 1);
    expect((await readFile(stack.deps.volume.chunkPath('demo', digest))).equals(bytes)).toBe(true);
  });

  it('an object that is wrong in S3 itself is refused (502) after one retry, and not cached', async () => {
    const { digest, key } = await stack.putChunk('demo', randomBytes(4096));
    const other = await stack.putChunk('demo', randomBytes(4096));
    const ds = stack.ds('demo');
    await putObjectBytes(s3ClientFor(ds), ds.bucket, key.slice(ds.bucket.length + 1), other.bytes);
    const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
    expect(res.status).toBe(502);
    expect(stack.s3?.stats.getsByKey.get(key)).toBe(2);
    expect(await stack.deps.volume.hasChunk('demo', digest)).toBe(false);
    expect(await stack.deps.index.has(`demo/${digest}`)).toBe(false);
  });
});

describe('the scrubber', () => {
  it('finds a flipped byte without any client read, and quarantines only that file', async () => {
    const c = images.cas.chunks[2] as Chunk;
    const good = images.cas.chunks[1] as Chunk;
    await cache(c);
    await cache(good);
    await flip(c);
    const report = await stack.cacheIndex.scrub();
    expect(report.quarantined).toBe(1);
    expect(report.chunks).toBeGreaterThanOrEqual(2);
    expect(await stack.deps.volume.hasChunk(c.store, c.digest)).toBe(false);
    expect(await stack.deps.index.has(`${c.store}/${c.digest}`)).toBe(false);
    expect(await stack.deps.volume.hasChunk(good.store, good.digest)).toBe(true);
    expect(stack.cacheIndex.scrubStatus().findings.at(-1)).toMatchObject({ key: `${c.store}/${c.digest}`, path: stack.deps.volume.chunkPath(c.store, c.digest) });
    // The next read fetches it again.
    const before = gets(c);
    const res = await fetchBytes(chunkUrl(c));
    expect(res.body.equals(c.bytes)).toBe(true);
    expect(gets(c)).toBe(before + 1);
  });
});
