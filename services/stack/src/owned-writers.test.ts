import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { importRawImage, pushCasyncStore, type OwnedWrites } from '@larder/datastore';
import { digest, encodeChunk } from '@larder/formats';
import { ChunkTouches, KnownChunks, RedisUnavailableError, createRedis, type Redis } from '@larder/redis';
import { startOwnRedis } from '@larder/redis/testing';
import { chunkObjectKey, headObjectSize, indexObjectKey, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './test-stack.js';

// `larder import` and `larder push-casync` into datastores Larder owns follow the GC protocol (issue 12): registered as
// writers while they run (also when they fail), every chunk touched before its upload or skip, the index last.
let stack: TestStack;
let redis: Redis;
let touches: ChunkTouches;
let owned: OwnedWrites;
const CHUNK = 64 * 1024;

beforeAll(async () => {
  const datastores = { vault: { layout: 'pbs', bucket: 'vault', owned: true }, casv: { layout: 'casync', bucket: 'casv', owned: true } };
  stack = await startTestStack({ fetchers: 1, config: { datastores } });
  redis = createRedis({ url: stack.config.redis.url });
  touches = new ChunkTouches(redis, stack.ns, { pollMs: 10 });
  owned = { touches, known: new KnownChunks(redis, stack.ns), trustMs: 3_600_000 };
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.cleanup();
});

async function imageFile(name: string, chunks: number): Promise<{ file: string; digests: string[] }> {
  const dir = path.join(stack.dir, 'owned');
  await mkdir(dir, { recursive: true });
  const image = randomBytes(chunks * CHUNK);
  const file = path.join(dir, name);
  await writeFile(file, image);
  const digests = Array.from({ length: chunks }, (_, i) => digest('sha256', image.subarray(i * CHUNK, (i + 1) * CHUNK)).toString('hex'));
  return { file, digests };
}

const inS3 = (store: string, key: (ds: ReturnType<TestStack['ds']>) => string) => {
  const ds = stack.ds(store);
  return headObjectSize(s3ClientFor(ds), ds.bucket, key(ds));
};

describe('writers of an owned datastore', () => {
  it('import registers as a writer while it runs, touches every chunk, and skips known ones the next time', async () => {
    const { file, digests } = await imageFile('a.raw', 3);
    const during: (number | undefined)[] = [];
    const report = await importRawImage({
      ds: stack.ds('vault'),
      file,
      name: 'a',
      chunkSize: CHUNK,
      owned,
      onProgress: () => void touches.oldestWriter('vault').then((t) => during.push(t)),
    });
    expect(report.uploadedChunks).toBe(3);
    await sleep(50); // the last progress look-ups
    expect(during.some((t) => t !== undefined)).toBe(true);
    expect(await touches.oldestWriter('vault')).toBeUndefined();
    expect(await touches.touchEpoch('vault')).toBeDefined();
    // Touched now: GC cannot claim them; the next import skips them without asking S3.
    expect(await touches.claim('vault', 'gc', digests, Date.now() - 1000, 60_000)).toEqual([]);
    const again = await importRawImage({ ds: stack.ds('vault'), file, name: 'a', chunkSize: CHUNK, owned });
    expect(again.uploadedChunks).toBe(0);
  });

  it('import waits for a chunk GC claimed, uploads it once released, and uploads the index last', async () => {
    const { file, digests } = await imageFile('b.raw', 2);
    expect(await touches.claim('vault', 'gc', [digests[1]!], Date.now(), 60_000)).toEqual([digests[1]]);
    const running = importRawImage({ ds: stack.ds('vault'), file, name: 'b', chunkSize: CHUNK, owned });
    await sleep(300);
    expect(await inS3('vault', (ds) => indexObjectKey(ds, 'b.fidx'))).toBeUndefined();
    expect(await touches.oldestWriter('vault')).toBeDefined();
    await touches.release('vault', 'gc', [digests[1]!], []);
    expect((await running).uploadedChunks).toBe(2);
    for (const d of digests) expect(await inS3('vault', (ds) => chunkObjectKey(ds, d))).toBeDefined();
    expect(await inS3('vault', (ds) => indexObjectKey(ds, 'b.fidx'))).toBeDefined();
  });

  it('push-casync touches its chunks and ends its registration when it fails', async () => {
    const dir = path.join(stack.dir, 'casync-store');
    const good = encodeChunk('casync', randomBytes(5000), stack.ds('casv').digest);
    await mkdir(path.join(dir, good.digest.slice(0, 4)), { recursive: true });
    await writeFile(path.join(dir, good.digest.slice(0, 4), `${good.digest}.cacnk`), good.bytes);
    const pushed = await pushCasyncStore({ ds: stack.ds('casv'), storeDir: dir, owned });
    expect(pushed.uploadedChunks).toBe(1);
    expect(await touches.claim('casv', 'gc', [good.digest], Date.now() - 1000, 60_000)).toEqual([]);

    const bad = 'ab'.repeat(32);
    await mkdir(path.join(dir, bad.slice(0, 4)), { recursive: true });
    await writeFile(path.join(dir, bad.slice(0, 4), `${bad}.cacnk`), randomBytes(100));
    await expect(pushCasyncStore({ ds: stack.ds('casv'), storeDir: dir, owned })).rejects.toThrow(/not a valid casync chunk/);
    expect(await touches.oldestWriter('casv')).toBeUndefined();
  });

  it('refuses to write an owned datastore without the record, and fails (nothing written) when Redis is down', async () => {
    const { file, digests } = await imageFile('c.raw', 1);
    await expect(importRawImage({ ds: stack.ds('vault'), file, name: 'c', chunkSize: CHUNK })).rejects.toThrow(/owned by Larder/);
    const own = await startOwnRedis();
    const conn = createRedis({ url: own.url });
    conn.on('error', () => {});
    try {
      await conn.ping();
      await own.stop();
      const down: OwnedWrites = { touches: new ChunkTouches(conn, stack.ns), known: new KnownChunks(conn, stack.ns), trustMs: 1000 };
      await expect(importRawImage({ ds: stack.ds('vault'), file, name: 'c', chunkSize: CHUNK, owned: down })).rejects.toBeInstanceOf(RedisUnavailableError);
    } finally {
      conn.disconnect();
      await own.stop();
    }
    expect(await inS3('vault', (ds) => chunkObjectKey(ds, digests[0]!))).toBeUndefined();
    expect(await inS3('vault', (ds) => indexObjectKey(ds, 'c.fidx'))).toBeUndefined();
  });

  it('the CLI: larder import into an owned datastore records its touches in the config’s Redis', async () => {
    const { file, digests } = await imageFile('d.raw', 2);
    const res = await stack.cli(['import', file, '--store', 'vault', '--name', 'd', '--chunk-size', '64KiB']);
    expect(res.code, res.stderr).toBe(0);
    expect(await touches.touch('vault', digests, 3_600_000)).toEqual(['known', 'known']);
  });
});
