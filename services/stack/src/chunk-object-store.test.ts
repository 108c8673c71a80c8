import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedDatastore } from '@larder/config';
import { encodeChunk, encodeDataBlob } from '@larder/formats';
import { ChunkObjectStore, S3ApiError, type ChunkUpload } from '@larder/gateway';
import { ChunkTouches, FlightLocks, KnownChunks, createRedis } from '@larder/redis';
import { startOwnRedis } from '@larder/redis/testing';
import { chunkObjectKey, deleteObject, headObjectSize, putObjectBytes, s3ClientFor } from '@larder/s3';
import { chunkKey } from '@larder/volume';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestStack } from './test-stack.js';

/** A PUT, and the volume write that follows its answer in the background. */
async function putSettled(store: ChunkObjectStore, ...args: Parameters<ChunkObjectStore['put']>): ReturnType<ChunkObjectStore['put']> {
  const result = await store.put(...args);
  await store.idle();
  return result;
}

const stack = await startTestStack();
const g = stack.gateways[0]!;
const { redis, volume, index, nc } = stack.deps;
const known = new KnownChunks(redis, stack.ns);
const touches = new ChunkTouches(redis, stack.ns, { pollMs: 10 });
const store = (k: KnownChunks = known, t: ChunkTouches = touches, claimWaitMs?: number) =>
  new ChunkObjectStore({ config: () => stack.config, chunks: g.chunks, readahead: g.chunkReadahead, known: k, touches: t, claimWaitMs, volume, index, nc });
const objects = store();
const pbs = stack.ds('demo');
const cas = stack.ds('cas');
const socket = new Socket();

afterAll(() => stack.cleanup());

/** The endpoint's upload: a real PutObject to the stack's S3, counted; with ifNoneMatch, 412 when the object exists (s3rver ignores the header). */
function uploader(ds: ResolvedDatastore, digest: string) {
  const calls: { ifNoneMatch: boolean }[] = [];
  const upload: ChunkUpload = async (body, opts) => {
    calls.push(opts);
    const client = s3ClientFor(ds);
    const key = chunkObjectKey(ds, digest);
    if (opts.ifNoneMatch && (await headObjectSize(client, ds.bucket, key)) !== undefined) return { preconditionFailed: true };
    await putObjectBytes(client, ds.bucket, key, body);
    return {};
  };
  return { upload, calls };
}

const chunk = (ds: ResolvedDatastore, size = 64 * 1024) => encodeChunk(ds.layout, randomBytes(size), ds.digest);
const md5 = (b: Uint8Array) => `"${createHash('md5').update(b).digest('hex')}"`;
const inS3 = (ds: ResolvedDatastore, digest: string) => headObjectSize(s3ClientFor(ds), ds.bucket, chunkObjectKey(ds, digest));
const isKnown = async (ds: ResolvedDatastore, digest: string) => (await known.known(ds.name, [digest], 3_600_000))[0];

describe('ChunkObjectStore', () => {
  it('names chunk keys of each layout, and nothing else', () => {
    const d = 'ab12' + 'c'.repeat(60);
    expect(objects.digestOf(pbs, `.chunks/ab12/${d}`)).toBe(d);
    expect(objects.digestOf(pbs, `.chunks/ab13/${d}`)).toBeUndefined();
    expect(objects.digestOf(pbs, `.chunks/AB12/${d.toUpperCase()}`)).toBeUndefined();
    expect(objects.digestOf(pbs, `ab12/${d}.cacnk`)).toBeUndefined();
    expect(objects.digestOf(pbs, `.cnt/vm/100/index.fidx`)).toBeUndefined();
    expect(objects.digestOf(pbs, `x/.chunks/ab12/${d}`)).toBeUndefined();
    expect(objects.digestOf(cas, `ab12/${d}.cacnk`)).toBe(d);
    expect(objects.digestOf(cas, `ab12/${d}`)).toBeUndefined();
    expect(objects.digestOf(cas, `.chunks/ab12/${d}`)).toBeUndefined();
  });

  it('uploads a valid pbs chunk once, admits it, and serves it afterwards as a hit with no S3 GET', async () => {
    const { digest, bytes } = chunk(pbs);
    const { upload, calls } = uploader(pbs, digest);
    const puts = stack.s3!.stats.puts;
    const res = await putSettled(objects, pbs, digest, bytes, upload, { ifNoneMatch: false });
    expect(res).toEqual({ etag: md5(bytes), uploaded: true, preconditionFailed: false });
    expect(calls).toHaveLength(1);
    expect(stack.s3!.stats.puts).toBe(puts + 1);
    expect(await inS3(pbs, digest)).toBe(bytes.byteLength);
    expect(await isKnown(pbs, digest)).toBe(true);
    expect(readFileSync(volume.chunkPath('demo', digest)).equals(bytes)).toBe(true);
    expect(await index.sizeOf(chunkKey('demo', digest))).toBe(bytes.byteLength);

    const gets = stack.s3!.stats.objectGets;
    const opened = await objects.open(pbs, digest, socket);
    try {
      expect(opened).toMatchObject({ hit: true, size: bytes.byteLength, etag: md5(bytes) });
      expect(fstatSync(opened.fd).size).toBe(bytes.byteLength);
    } finally {
      closeSync(opened.fd);
    }
    expect(await objects.head(pbs, digest)).toMatchObject({ size: bytes.byteLength, etag: md5(bytes) });
    expect(stack.s3!.stats.objectGets).toBe(gets);
  });

  it('makes no upload for a chunk known to be in S3, and counts it', async () => {
    const { digest, bytes } = chunk(pbs);
    const first = uploader(pbs, digest);
    await putSettled(objects, pbs, digest, bytes, first.upload, { ifNoneMatch: false });
    const before = objects.status();
    const puts = stack.s3!.stats.puts;
    const again = uploader(pbs, digest);
    const res = await putSettled(objects, pbs, digest, bytes, again.upload, { ifNoneMatch: false });
    expect(res).toEqual({ etag: md5(bytes), uploaded: false, preconditionFailed: false });
    expect(again.calls).toHaveLength(0);
    expect(stack.s3!.stats.puts).toBe(puts);
    const after = objects.status();
    expect(after.putsKnown).toBe(before.putsKnown + 1);
    expect(after.bytesNotUploaded).toBe(before.bytesNotUploaded + bytes.byteLength);
    expect(after.putsUploaded).toBe(before.putsUploaded);
  });

  it('shares one upload among concurrent PUTs of a chunk', async () => {
    const { digest, bytes } = chunk(pbs);
    const { upload, calls } = uploader(pbs, digest);
    const results = await Promise.all(Array.from({ length: 5 }, () => putSettled(objects, pbs, digest, bytes, upload, { ifNoneMatch: false })));
    expect(calls).toHaveLength(1);
    for (const r of results) expect(r).toEqual({ etag: md5(bytes), uploaded: true, preconditionFailed: false });
  });

  describe('across the processes of a node (upload locks in Redis)', () => {
    const locks = new FlightLocks(redis, stack.ns);
    /** A store as another gateway process has it: its own in-process single flight, the node's Redis. */
    const processStore = () => new ChunkObjectStore({ config: () => stack.config, chunks: g.chunks, readahead: g.chunkReadahead, known, touches, volume, index, nc, locks });
    /** An upload that takes a while, so that PUTs in other processes arrive during it; `fail` throws after the wait. */
    const slowUploader = (ds: ResolvedDatastore, digest: string, ms: number, fail = false) => {
      const u = uploader(ds, digest);
      const upload: ChunkUpload = async (body, opts) => {
        await sleep(ms);
        if (fail) {
          u.calls.push(opts);
          throw new Error('upstream PUT failed');
        }
        return u.upload(body, opts);
      };
      return { upload, calls: u.calls };
    };

    it('uploads a new chunk once when PUTs of it reach two processes at once; the other PUT sends nothing and succeeds', async () => {
      const { digest, bytes } = chunk(pbs);
      const [a, b] = [processStore(), processStore()];
      const ua = slowUploader(pbs, digest, 300);
      const ub = slowUploader(pbs, digest, 300);
      const puts = stack.s3!.stats.puts;
      const [ra, rb] = await Promise.all([
        putSettled(a, pbs, digest, bytes, ua.upload, { ifNoneMatch: false }),
        sleep(50).then(() => putSettled(b, pbs, digest, bytes, ub.upload, { ifNoneMatch: false })),
      ]);
      expect(ua.calls.length + ub.calls.length).toBe(1);
      expect(stack.s3!.stats.puts).toBe(puts + 1);
      expect(ra).toEqual({ etag: md5(bytes), uploaded: true, preconditionFailed: false });
      expect(rb).toEqual({ etag: md5(bytes), uploaded: false, preconditionFailed: false });
      expect(b.status().putsJoinedNode).toBe(1);
      expect(await inS3(pbs, digest)).toBe(bytes.byteLength);
    });

    it('answers the waiting PUT with If-None-Match 412, as S3 would once the other upload made the object', async () => {
      const { digest, bytes } = chunk(pbs);
      const [a, b] = [processStore(), processStore()];
      const ua = slowUploader(pbs, digest, 300);
      const ub = slowUploader(pbs, digest, 300);
      const [ra, rb] = await Promise.all([
        putSettled(a, pbs, digest, bytes, ua.upload, { ifNoneMatch: true }),
        sleep(50).then(() => putSettled(b, pbs, digest, bytes, ub.upload, { ifNoneMatch: true })),
      ]);
      expect(ua.calls.length + ub.calls.length).toBe(1);
      expect(ra.preconditionFailed).toBe(false);
      expect(rb.preconditionFailed).toBe(true);
    });

    it('uploads it itself when the other process fails its upload (the lock is given back)', async () => {
      const { digest, bytes } = chunk(pbs);
      const [a, b] = [processStore(), processStore()];
      const ua = slowUploader(pbs, digest, 200, true);
      const ub = slowUploader(pbs, digest, 0);
      const [ra, rb] = await Promise.allSettled([
        putSettled(a, pbs, digest, bytes, ua.upload, { ifNoneMatch: false }),
        sleep(50).then(() => putSettled(b, pbs, digest, bytes, ub.upload, { ifNoneMatch: false })),
      ]);
      expect(ra.status).toBe('rejected');
      expect(rb).toMatchObject({ status: 'fulfilled', value: { uploaded: true } });
      expect(ub.calls).toHaveLength(1);
      expect(await inS3(pbs, digest)).toBe(bytes.byteLength);
    });

    it('uploads it itself once the lease of a process that died mid-upload runs out', async () => {
      const { digest, bytes } = chunk(pbs);
      // A process took the lock and was killed: its lease (short here) is all that is left of it.
      expect(await locks.acquire(`${chunkKey('demo', digest)}:upload`, 400)).toBeDefined();
      const u = uploader(pbs, digest);
      const t0 = Date.now();
      const r = await putSettled(processStore(), pbs, digest, bytes, u.upload, { ifNoneMatch: false });
      expect(r.uploaded).toBe(true);
      expect(u.calls).toHaveLength(1);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    });
  });

  it('refuses a body that is not the chunk its key names: nothing uploaded, written or recorded', async () => {
    const { digest, bytes } = chunk(pbs);
    const other = chunk(pbs);
    const garbage = randomBytes(5000);
    const truncated = bytes.subarray(0, bytes.byteLength - 10);
    const before = objects.status().verifyRefused;
    for (const [body, code] of [
      [other.bytes, 'BadDigest'],
      [garbage, 'InvalidRequest'],
      [truncated, 'InvalidRequest'],
    ] as const) {
      const { upload, calls } = uploader(pbs, digest);
      const err = await putSettled(objects, pbs, digest, body, upload, { ifNoneMatch: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(S3ApiError);
      expect(err).toMatchObject({ code, status: 400 });
      expect((err as Error).message).toContain('demo');
      expect(calls).toHaveLength(0);
    }
    // A casync frame is not a pbs chunk either.
    const casFrame = encodeChunk('casync', randomBytes(100), 'sha256');
    const err = await putSettled(objects, pbs, casFrame.digest, casFrame.bytes, uploader(pbs, casFrame.digest).upload, { ifNoneMatch: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'InvalidRequest' });
    expect(objects.status().verifyRefused).toBe(before + 4);
    expect(await inS3(pbs, digest)).toBeUndefined();
    expect(existsSync(volume.chunkPath('demo', digest))).toBe(false);
    expect(await isKnown(pbs, digest)).toBe(false);
    expect(await index.sizeOf(chunkKey('demo', digest))).toBeUndefined();
  });

  it('answers If-None-Match as S3 would: created when new, PreconditionFailed when known or when S3 says it exists', async () => {
    const { digest, bytes } = chunk(pbs);
    const a = uploader(pbs, digest);
    expect(await putSettled(objects, pbs, digest, bytes, a.upload, { ifNoneMatch: true })).toEqual({ etag: md5(bytes), uploaded: true, preconditionFailed: false });
    expect(a.calls).toEqual([{ ifNoneMatch: true }]);
    const b = uploader(pbs, digest);
    expect(await putSettled(objects, pbs, digest, bytes, b.upload, { ifNoneMatch: true })).toMatchObject({ uploaded: false, preconditionFailed: true });
    expect(b.calls).toHaveLength(0);

    // In S3 (written behind Larder's back) but not known: S3's 412 is the answer, and the chunk is known from then on, and cached.
    const behind = await stack.putChunk('demo', randomBytes(30_000));
    const c = uploader(pbs, behind.digest);
    const existing = objects.status().putsExisting;
    expect(await putSettled(objects, pbs, behind.digest, behind.bytes, c.upload, { ifNoneMatch: true })).toMatchObject({ uploaded: false, preconditionFailed: true });
    expect(c.calls).toHaveLength(1);
    expect(objects.status().putsExisting).toBe(existing + 1);
    expect(await isKnown(pbs, behind.digest)).toBe(true);
    expect(existsSync(volume.chunkPath('demo', behind.digest))).toBe(true);
  });

  it('knows chunks the chunk-fetchers GET from S3, and chunks seen by a HEAD', async () => {
    const fetched = await stack.putChunk('demo', randomBytes(20_000));
    const opened = await objects.open(pbs, fetched.digest, socket);
    expect(opened).toMatchObject({ hit: false, size: fetched.bytes.byteLength, etag: md5(fetched.bytes) });
    closeSync(opened.fd);
    // The fetcher records it without holding up its reply.
    for (let i = 0; i < 100 && !(await isKnown(pbs, fetched.digest)); i++) await sleep(20);
    expect(await isKnown(pbs, fetched.digest)).toBe(true);
    const u = uploader(pbs, fetched.digest);
    expect(await putSettled(objects, pbs, fetched.digest, fetched.bytes, u.upload, { ifNoneMatch: false })).toMatchObject({ uploaded: false });
    expect(u.calls).toHaveLength(0);

    const headed = chunk(pbs);
    expect(await objects.head(pbs, headed.digest)).toBeUndefined();
    objects.seen(pbs, headed.digest);
    for (let i = 0; i < 100 && !(await isKnown(pbs, headed.digest)); i++) await sleep(20);
    expect(await isKnown(pbs, headed.digest)).toBe(true);
  });

  it('answers NoSuchKey for a chunk S3 does not have, and forgets a record S3 contradicts', async () => {
    const { digest } = chunk(pbs);
    await known.record('demo', [digest]);
    const err = await objects.open(pbs, digest, socket).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3ApiError);
    expect(err).toMatchObject({ code: 'NoSuchKey', status: 404 });
    for (let i = 0; i < 100 && (await isKnown(pbs, digest)); i++) await sleep(20);
    expect(await isKnown(pbs, digest)).toBe(false);
  });

  it('deleted() drops the record and the cached copy; a later GET asks S3 again', async () => {
    const { digest, bytes } = chunk(pbs);
    await putSettled(objects, pbs, digest, bytes, uploader(pbs, digest).upload, { ifNoneMatch: false });
    expect(existsSync(volume.chunkPath('demo', digest))).toBe(true);
    // The S3 endpoint deletes the object, then tells the store.
    await deleteObject(s3ClientFor(pbs), pbs.bucket, chunkObjectKey(pbs, digest));
    await objects.deleted(pbs, [digest]);
    expect(await isKnown(pbs, digest)).toBe(false);
    expect(existsSync(volume.chunkPath('demo', digest))).toBe(false);
    expect(await index.sizeOf(chunkKey('demo', digest))).toBeUndefined();
    expect(await objects.head(pbs, digest)).toBeUndefined();
    expect(await objects.open(pbs, digest, socket).catch((e: unknown) => e)).toMatchObject({ status: 404 });
    // And a PUT of it uploads again.
    const u = uploader(pbs, digest);
    expect(await putSettled(objects, pbs, digest, bytes, u.upload, { ifNoneMatch: false })).toMatchObject({ uploaded: true });
    expect(u.calls).toHaveLength(1);
    expect(objects.status().deletes).toBeGreaterThanOrEqual(1);
  });

  it('works for the casync layout', async () => {
    const { digest, bytes } = chunk(cas, 10_000);
    expect(objects.digestOf(cas, `${digest.slice(0, 4)}/${digest}.cacnk`)).toBe(digest);
    const u = uploader(cas, digest);
    expect(await putSettled(objects, cas, digest, bytes, u.upload, { ifNoneMatch: false })).toEqual({ etag: md5(bytes), uploaded: true, preconditionFailed: false });
    expect(await inS3(cas, digest)).toBe(bytes.byteLength);
    const gets = stack.s3!.stats.objectGets;
    const opened = await objects.open(cas, digest, socket);
    expect(opened).toMatchObject({ hit: true, etag: md5(bytes) });
    closeSync(opened.fd);
    expect(stack.s3!.stats.objectGets).toBe(gets);
    // A pbs DataBlob is not a casync chunk.
    const blob = encodeDataBlob(randomBytes(100));
    expect(await putSettled(objects, cas, digest, blob, u.upload, { ifNoneMatch: false }).catch((e: unknown) => e)).toMatchObject({ code: 'InvalidRequest' });
    expect(u.calls).toHaveLength(1);
  });

  it('believes a record only within gateway.knownChunkTtl', async () => {
    const { digest, bytes } = chunk(pbs);
    await known.record('demo', [digest], Date.now() - stack.config.gateway.knownChunkTtl - 1000);
    const u = uploader(pbs, digest);
    expect(await putSettled(objects, pbs, digest, bytes, u.upload, { ifNoneMatch: false })).toMatchObject({ uploaded: true });
    expect(u.calls).toHaveLength(1);
    expect(await isKnown(pbs, digest)).toBe(true);
  });

  it('answers a PUT that S3 took even when the volume has no room for it (counted, not cached)', async () => {
    // The whole filesystem reserved: no chunk can ever fit.
    const small = { ...stack.config, volume: { ...stack.config.volume, reserve: 1 } };
    const tiny = new ChunkObjectStore({ config: () => small, chunks: g.chunks, known, touches, volume, index, nc });
    const { digest, bytes } = chunk(pbs);
    const u = uploader(pbs, digest);
    expect(await putSettled(tiny, pbs, digest, bytes, u.upload, { ifNoneMatch: false })).toMatchObject({ uploaded: true });
    expect(tiny.status()).toMatchObject({ putsUploaded: 1, cacheFailures: 1 });
    expect(await inS3(pbs, digest)).toBe(bytes.byteLength);
    expect(await isKnown(pbs, digest)).toBe(true);
    expect(existsSync(volume.chunkPath('demo', digest))).toBe(false);
  });

  it('still writes through while the record (Redis) is unreachable: uploads, and the PUT succeeds', async () => {
    const own = await startOwnRedis();
    const conn = createRedis({ url: own.url });
    conn.on('error', () => {});
    try {
      const record = new KnownChunks(conn, stack.ns);
      const down = store(record);
      const { digest, bytes } = chunk(pbs);
      await record.record('demo', [digest]);
      expect(await record.known('demo', [digest], 60_000)).toEqual([true]);
      await own.stop();
      const u = uploader(pbs, digest);
      expect(await putSettled(down, pbs, digest, bytes, u.upload, { ifNoneMatch: false })).toMatchObject({ uploaded: true });
      expect(u.calls).toHaveLength(1);
      expect(existsSync(volume.chunkPath('demo', digest))).toBe(true);
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });

  it('an owned datastore: a PUT touches first, waits while GC claims the chunk, then uploads; a known one is skipped', async () => {
    const owned = { ...pbs, owned: true };
    const writes = store(known, touches, 10_000);
    const { digest, bytes } = chunk(owned);
    expect(await touches.claim('demo', 'gc-run', [digest], Date.now() - 3_600_000, 60_000)).toEqual([digest]);
    const u = uploader(owned, digest);
    const put = putSettled(writes, owned, digest, bytes, u.upload, { ifNoneMatch: false });
    // It waits for the claim (nothing uploaded while GC may be deleting it) ...
    while (writes.status().putsClaimWaits === 0) await sleep(10);
    expect(u.calls).toHaveLength(0);
    // ... and uploads once GC released it (deleted).
    await touches.release('demo', 'gc-run', [digest], []);
    expect(await put).toMatchObject({ uploaded: true });
    expect(u.calls).toHaveLength(1);
    expect(await inS3(owned, digest)).toBe(bytes.byteLength);
    // Touched and recorded: the next PUT is skipped, and GC cannot claim it.
    const again = uploader(owned, digest);
    expect(await putSettled(writes, owned, digest, bytes, again.upload, { ifNoneMatch: false })).toMatchObject({ uploaded: false });
    expect(again.calls).toHaveLength(0);
    expect(await touches.claim('demo', 'gc-run', [digest], Date.now() - 3_600_000, 60_000)).toEqual([]);
  });

  it('an owned datastore: a PUT of a chunk still claimed after the wait is SlowDown (503), nothing uploaded', async () => {
    const owned = { ...pbs, owned: true };
    const { digest, bytes } = chunk(owned);
    await touches.claim('demo', 'gc-stuck', [digest], Date.now() - 3_600_000, 60_000);
    const u = uploader(owned, digest);
    const err = await putSettled(store(known, touches, 50), owned, digest, bytes, u.upload, { ifNoneMatch: false }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SlowDown', status: 503 });
    expect(u.calls).toHaveLength(0);
    await touches.release('demo', 'gc-stuck', [], [digest]);
  });

  it('an owned datastore: a PUT fails (503) when Redis cannot record the touch — no unrecorded upload', async () => {
    const own = await startOwnRedis();
    const conn = createRedis({ url: own.url });
    conn.on('error', () => {});
    try {
      const down = store(new KnownChunks(conn, stack.ns), new ChunkTouches(conn, stack.ns));
      const owned = { ...pbs, owned: true };
      const { digest, bytes } = chunk(owned);
      await conn.ping();
      await own.stop();
      const u = uploader(owned, digest);
      const err = await putSettled(down, owned, digest, bytes, u.upload, { ifNoneMatch: false }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 503, name: 'RedisUnavailableError' });
      expect(u.calls).toHaveLength(0);
      expect(await inS3(owned, digest)).toBeUndefined();
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });
});
