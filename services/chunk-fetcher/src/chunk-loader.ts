import { SpanKind, SpanStatusCode, context, type Span } from '@opentelemetry/api';
import { decodeJson, encodeJson, subjects, type NatsConnection } from '@larder/bus';
import { resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { decodeAndVerifyChunk, isHexDigest } from '@larder/formats';
import type { ChunkIndex, FlightLocks } from '@larder/redis';
import { chunkObjectKey, objectGetterFor } from '@larder/s3';
import { createLogger, tracer } from '@larder/telemetry';
import { chunkKey, type Volume } from '@larder/volume';
import { BodyPool } from './body-pool.js';
import { FetchError, toFetchError } from './fetch-error.js';
import { FetchErrorCode, type FetchOutcome, type FetchReply } from './types.js';

const log = createLogger('chunk-fetcher');
const LOCK_TTL_MS = 3000;
const tr = tracer('larder.chunk-fetcher');

/** What a loader needs: the config (read on every call, so reloads apply), the bus, the index and the volume. */
export interface ChunkLoaderDeps {
  config: () => Config;
  nc: NatsConnection;
  index: ChunkIndex;
  locks: FlightLocks;
  volume: Volume;
}

/**
 * Brings chunks into the volume with single flight: one fetch per chunk in this process (a shared promise)
 * and across processes (a Redis lock; the others wait for the holder's done event).
 */
export class ChunkLoader {
  private readonly inflight = new Map<string, Promise<FetchReply>>();
  /** Memory for response bodies, reused once a chunk is written (up to 64 MiB kept idle). */
  private readonly bodies = new BodyPool(64 * 2 ** 20);

  constructor(private readonly deps: ChunkLoaderDeps) {}

  /** Chunks being loaded by this process right now. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Make sure the volume holds a verified copy of the chunk. */
  load(store: string, digest: string): Promise<FetchReply> {
    const ds = resolveDatastore(this.deps.config(), store);
    if (!ds) return Promise.reject(new FetchError(FetchErrorCode.NotFound, `unknown datastore: ${store}`));
    if (!isHexDigest(digest)) return Promise.reject(new FetchError(FetchErrorCode.BadRequest, `malformed digest: expected 64 lowercase hex characters`));
    const key = chunkKey(store, digest);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.loadOnce(ds, digest, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async loadOnce(ds: ResolvedDatastore, digest: string, key: string): Promise<FetchReply> {
    const { volume, locks, index } = this.deps;
    const timeout = this.deps.config().fetcher.timeout;
    const deadline = Date.now() + timeout + 5000;
    while (Date.now() < deadline) {
      const size = await volume.chunkSize(ds.name, digest);
      if (size !== undefined) {
        await index.admit(key, size);
        return { source: 'volume', size };
      }
      const token = await locks.acquire(key, LOCK_TTL_MS);
      if (token) {
        // A short lease, renewed while we work: if this process dies, another fetcher takes over within LOCK_TTL_MS.
        const renew = setInterval(() => void locks.extend(key, token, LOCK_TTL_MS).catch(() => {}), LOCK_TTL_MS / 3);
        const lock = { token, released: false };
        try {
          return await this.fetchFromS3(ds, digest, key, lock);
        } finally {
          clearInterval(renew);
          if (!lock.released) await locks.release(key, token).catch((err) => log.warn('lock release failed', { key, err }));
        }
      }
      const outcome = await this.waitForPeer(ds.name, digest, Math.min(1000, deadline - Date.now()));
      if (outcome?.ok) return { source: 'peer', size: outcome.size };
      if (outcome && !outcome.ok) throw new FetchError(outcome.code, outcome.message);
      // No event within the wait: loop, re-check the volume, and take the lock if its holder died.
    }
    throw new FetchError(FetchErrorCode.Timeout, `fetching chunk ${digest} of ${ds.name} took longer than ${timeout} ms`);
  }

  /** Fetch, verify, write and admit a chunk while holding its lock; the admission also releases the lock (`lock.released`). */
  private async fetchFromS3(ds: ResolvedDatastore, digest: string, key: string, lock: { token: string; released: boolean }): Promise<FetchReply> {
    const { config, nc } = this.deps;
    const cfg = config();
    const done = subjects(cfg.namespace).chunkDone(ds.name, digest);
    try {
      const objectKey = chunkObjectKey(ds, digest);
      const t0 = performance.now();
      let gets = 0;
      const bytes = await span('s3.get', { 's3.bucket': ds.bucket, 's3.key': objectKey }, () =>
        // Our own signed GET over node:http (not the AWS SDK): a fraction of the CPU per request, which matters at
        // hundreds of small casync chunks per second. The semaphore, not the socket pool, bounds the requests.
        objectGetterFor(ds, { maxSockets: 1024 })
          .get(
            ds.bucket,
            objectKey,
            { timeoutMs: cfg.fetcher.timeout, retries: cfg.fetcher.retries, backoffMs: cfg.fetcher.backoff },
            (attempt, err) => {
              gets++;
              log.warn('S3 GET failed, retrying', { key: objectKey, attempt, err });
            },
            (length) => this.bodies.take(length),
          )
          .finally(() => gets++),
      );
      try {
        const reply = await this.store(ds, digest, key, lock, bytes, { gets, getMs: performance.now() - t0 });
        nc.publish(done, encodeJson({ ok: true, size: bytes.byteLength } satisfies FetchOutcome));
        return reply;
      } finally {
        // Verified, written and admitted (or refused): nothing holds the body any more.
        this.bodies.give(bytes);
      }
    } catch (err) {
      const fe = toFetchError(err, ds.name, digest);
      nc.publish(done, encodeJson({ ok: false, code: fe.code, message: fe.message } satisfies FetchOutcome));
      throw fe;
    }
  }

  /** Verify a fetched body, write it to the volume and admit it (which releases the lock). */
  private async store(
    ds: ResolvedDatastore,
    digest: string,
    key: string,
    lock: { token: string; released: boolean },
    bytes: Buffer,
    fetch: { gets: number; getMs: number },
  ): Promise<FetchReply> {
    const { config, index, volume, nc } = this.deps;
    const cfg = config();
    const t1 = performance.now();
    try {
      await span('chunk.verify', { 'chunk.layout': ds.layout }, async () => decodeAndVerifyChunk(ds.layout, digest, bytes, ds.digest));
    } catch (err) {
      await index.incrStats({ verifyFailures: 1, s3Gets: fetch.gets, s3Bytes: bytes.byteLength });
      log.error('chunk failed verification, not cached', { store: ds.name, digest, err });
      throw err;
    }
    try {
      await span('volume.write', { 'chunk.size': bytes.byteLength }, () => volume.writeChunk(ds.name, digest, bytes));
    } catch (err) {
      await index.incrStats({ s3Gets: fetch.gets, s3Bytes: bytes.byteLength }).catch(() => {});
      throw err;
    }
    const t2 = performance.now();
    const admitted = await index.admitFetched(key, bytes.byteLength, { token: lock.token, s3Gets: fetch.gets, s3Bytes: bytes.byteLength });
    lock.released = admitted.lockReleased;
    log.debug('fetched', { key, bytes: bytes.byteLength, getMs: Math.round(fetch.getMs), verifyWriteMs: Math.round(t2 - t1), admitMs: Math.round(performance.now() - t2) });
    if (admitted.usedBytes > cfg.capacity) nc.publish(subjects(cfg.namespace).indexPressure, encodeJson({ usedBytes: admitted.usedBytes }));
    return { source: 's3', size: bytes.byteLength };
  }

  /** Wait for another fetcher's done event for this chunk; undefined when none came in time or the volume has it. */
  private async waitForPeer(store: string, digest: string, waitMs: number): Promise<FetchOutcome | undefined> {
    const { nc, config } = this.deps;
    const sub = nc.subscribe(subjects(config().namespace).chunkDone(store, digest), { max: 1 });
    const timer = setTimeout(() => sub.unsubscribe(), Math.max(1, waitMs));
    try {
      // The holder may have finished between our lock attempt and the subscription.
      const size = await this.deps.volume.chunkSize(store, digest);
      if (size !== undefined) return { ok: true, size };
      for await (const m of sub) return decodeJson<FetchOutcome>(m.data);
      return undefined;
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
    }
  }
}

/** Run `fn` in a child span of the active context; record failures on the span. */
async function span<T>(name: string, attributes: Record<string, string | number>, fn: () => Promise<T>): Promise<T> {
  return tr.startActiveSpan(name, { kind: name.startsWith('s3') ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes }, context.active(), async (s: Span) => {
    try {
      return await fn();
    } catch (err) {
      s.recordException(err as Error);
      s.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      s.end();
    }
  });
}
