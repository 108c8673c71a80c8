import { SpanKind, SpanStatusCode, context, type Span } from '@opentelemetry/api';
import { FetchStatus, decodeJson, encodeJson, requestEviction, subjects, type FetchOutcome, type FetchReply, type NatsConnection } from '@larder/bus';
import { resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { StatusError } from '@larder/errors';
import { SingleFlight } from '@larder/flight';
import { decodeAndVerifyChunk, isHexDigest } from '@larder/formats';
import { s3RequestField, s3StoreFields, type ChunkIndex, type FlightLocks, type KnownChunks, type S3RequestOutcome } from '@larder/redis';
import { S3Error, S3ThrottledError, chunkObjectKey, classifyS3Error, objectGetterFor, type S3ErrorKind } from '@larder/s3';
import { createLogger, tracer } from '@larder/telemetry';
import { ChunkWriter, chunkKey, type Volume } from '@larder/volume';
import { BodyPool } from './body-pool.js';
import { fetchFailure } from './fetch-failure.js';
import { fetcherRetries, s3OperationSeries, s3ReceivedBytes, verificationFailures } from '@larder/metrics';

const log = createLogger('chunk-fetcher');
const LOCK_TTL_MS = 3000;
const tr = tracer('larder.chunk-fetcher');

/** What a fetch worker needs: the config (read on every call, so reloads apply), the bus, the index, the locks and the volume. */
export interface FetchWorkerDeps {
  config: () => Config;
  nc: NatsConnection;
  index: ChunkIndex;
  locks: FlightLocks;
  volume: Volume;
  /** The node's record of chunks known to be in S3: a verified GET records its chunk, a 404 forgets it. */
  known?: KnownChunks;
}

/** A chunk's single-flight lock while this worker holds it; `released` once the admission let it go. */
interface HeldLock {
  token: string;
  released: boolean;
}

/** The S3 outcome a stats field counts for each kind of S3 failure. */
const OUTCOME_OF: Record<S3ErrorKind, S3RequestOutcome> = { 'not-found': 'not_found', denied: 'denied', timeout: 'timeout', unavailable: 'error', failed: 'error' };

/** The fetchers' S3 GET series, labelled once. */
const getMetrics = s3OperationSeries('GetObject');

/** The S3 GETs of one fetch (retries included) by outcome, and how long they took: each is billed, so each is counted. */
class S3Gets {
  private readonly outcomes = new Map<S3RequestOutcome, number>();
  count = 0;
  ms = 0;

  /** `store`: the datastore the GETs are counted for. */
  constructor(private readonly store: string) {}

  add(outcome: S3RequestOutcome): void {
    this.count++;
    getMetrics.status[outcome].inc();
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  /** A failed attempt, by its error. */
  failed(err: unknown): void {
    this.add(err instanceof S3Error ? OUTCOME_OF[err.kind] : OUTCOME_OF[classifyS3Error(err).kind]);
  }

  /** The `s3.get.<outcome>` stats counters, and the datastore's GETs and `bytes` downloaded (in the same stats write). */
  counters(bytes = 0): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [outcome, n] of this.outcomes) out[s3RequestField('get', outcome)] = n;
    const fields = s3StoreFields(this.store, 'get');
    out[fields.requests] = this.count;
    if (bytes > 0) out[fields.bytes] = bytes;
    return out;
  }
}

/**
 * Brings chunks into the volume, each step one method in data-path order: S3 GET (`get`), `verify` (a body that
 * fails is fetched once more, on a new connection), then `writeAdmit` (`write`, `admit`). Single flight: one fetch per chunk in this process (a
 * shared promise) and across processes (a Redis lock; the others wait for the holder's done event).
 */
export class FetchWorker {
  private readonly fetches = new SingleFlight<FetchReply>();
  /** Memory for response bodies, reused once a chunk is written (up to 64 MiB kept idle). */
  private readonly bodies = new BodyPool(64 * 2 ** 20);
  /** Writes bodies to the volume, asking the cache-index for room when it is full. */
  private readonly writer: ChunkWriter;

  constructor(private readonly deps: FetchWorkerDeps) {
    const { config, nc, volume } = deps;
    this.writer = new ChunkWriter({
      volume,
      settings: () => {
        const cfg = config();
        return { reserve: cfg.volume.reserve, capacity: cfg.capacity, timeoutMs: cfg.fetcher.timeout };
      },
      requestRoom: (req) =>
        requestEviction(nc, config().namespace, req).catch((err: unknown) => log.warn('the cache-index did not make room on the volume', { ...req, err: (err as Error).message })),
    });
  }

  /** Make sure the volume holds a verified copy of the chunk. Fails with a StatusError (the status the fetcher answers with). */
  fetch(store: string, digest: string): Promise<FetchReply> {
    const ds = resolveDatastore(this.deps.config(), store);
    if (!ds) return Promise.reject(new StatusError(FetchStatus.NotFound, `unknown datastore: ${store}`));
    if (!isHexDigest(digest)) return Promise.reject(new StatusError(FetchStatus.BadRequest, `malformed digest: expected 64 lowercase hex characters`));
    const key = chunkKey(store, digest);
    return this.fetches.run(key, () => this.fetchOnce(ds, digest, key));
  }

  /** The chunk from the volume, from S3 while holding its lock, or from the peer that holds the lock. */
  private async fetchOnce(ds: ResolvedDatastore, digest: string, key: string): Promise<FetchReply> {
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
        const lock: HeldLock = { token, released: false };
        try {
          return await this.fetchFromS3(ds, digest, key, lock);
        } finally {
          clearInterval(renew);
          if (!lock.released) await locks.release(key, token).catch((err) => log.warn('lock release failed', { key, err }));
        }
      }
      const outcome = await this.waitForPeer(ds.name, digest, Math.min(1000, deadline - Date.now()));
      if (outcome?.ok) return { source: 'peer', size: outcome.size };
      if (outcome && !outcome.ok) throw new StatusError(outcome.code, outcome.message);
      // No event within the wait: loop, re-check the volume, and take the lock if its holder died.
    }
    throw new StatusError(FetchStatus.Timeout, `fetching chunk ${digest} of ${ds.name} took longer than ${timeout} ms`);
  }

  /** GET, verify, write and admit a chunk while holding its lock, and tell waiting peers how it went. */
  private async fetchFromS3(ds: ResolvedDatastore, digest: string, key: string, lock: HeldLock): Promise<FetchReply> {
    const { config, nc } = this.deps;
    const done = subjects(config().namespace).chunkDone(ds.name, digest);
    try {
      const gets = new S3Gets(ds.name);
      let bytes: Buffer | undefined = await this.get(ds, digest, gets);
      try {
        const t1 = performance.now();
        let failed = await this.verify(ds, digest, bytes);
        if (failed) {
          // Corruption in transit is real: one more GET, on a new connection, before the object is called bad.
          log.warn('chunk from S3 failed verification, fetching it once more on a new connection', { store: ds.name, digest, err: failed });
          verificationFailures.inc();
          await this.countFailedFetch({ verifyFailures: 1 });
          this.bodies.give(bytes);
          bytes = undefined;
          bytes = await this.get(ds, digest, gets, { keepAlive: false });
          failed = await this.verify(ds, digest, bytes);
        }
        if (failed) {
          verificationFailures.inc();
          await this.countFailedFetch({ verifyFailures: 1, s3Gets: gets.count, s3Bytes: bytes.byteLength, ...gets.counters(bytes.byteLength) });
          log.error('chunk failed verification, not cached', { store: ds.name, digest, err: failed });
          throw failed;
        }
        // S3 has it: a client's PUT of it needs no upload (best effort, never waited for).
        this.deps.known?.recordSoon(ds.name, digest);
        const reply = await this.writeAdmit(ds, digest, key, lock, bytes, gets, t1);
        nc.publish(done, encodeJson({ ok: true, size: bytes.byteLength } satisfies FetchOutcome));
        return reply;
      } finally {
        // Verified, written and admitted (or refused): nothing holds the body any more.
        if (bytes) this.bodies.give(bytes);
      }
    } catch (err) {
      const failure = fetchFailure(err, ds.name, digest);
      nc.publish(done, encodeJson({ ok: false, code: failure.status, message: failure.message } satisfies FetchOutcome));
      throw failure;
    }
  }

  /**
   * The chunk's object from S3, within the fetcher's deadline and retries; every attempt is counted in `gets` (a failed
   * GET in the stats here). `keepAlive: false`: on a new connection, not one from the pool.
   */
  private async get(ds: ResolvedDatastore, digest: string, gets: S3Gets, opts: { keepAlive?: boolean } = {}): Promise<Buffer> {
    const cfg = this.deps.config();
    const objectKey = chunkObjectKey(ds, digest);
    const t0 = performance.now();
    try {
      const bytes = await span('s3.get', { 's3.bucket': ds.bucket, 's3.key': objectKey }, () =>
        // Our own signed GET over node:http (not the AWS SDK): a fraction of the CPU per request, which matters at
        // hundreds of small casync chunks per second. The semaphore, not the socket pool, bounds the requests.
        objectGetterFor(ds, { maxSockets: 1024, keepAlive: opts.keepAlive }).get(
          ds.bucket,
          objectKey,
          { timeoutMs: cfg.fetcher.timeout, retries: cfg.fetcher.retries, backoffMs: cfg.fetcher.backoff },
          (attempt, err) => {
            gets.failed(err);
            fetcherRetries.inc();
            // A throttle answer is counted by the budget (larder_s3_throttled_total) and expected under a provider's limit.
            if (err instanceof S3ThrottledError) log.debug('S3 throttled a GET, retrying within the budget', { key: objectKey, attempt, status: err.status });
            else log.warn('S3 GET failed, retrying', { key: objectKey, attempt, err });
          },
          (length) => this.bodies.take(length),
        ),
      );
      gets.add('ok');
      s3ReceivedBytes.inc(bytes.byteLength);
      return bytes;
    } catch (err) {
      gets.failed(err);
      if ((err instanceof S3Error ? err.kind : classifyS3Error(err).kind) === 'not-found') void this.deps.known?.forget(ds.name, [digest]);
      await this.countFailedFetch({ s3Gets: gets.count, ...gets.counters() });
      throw err;
    } finally {
      gets.ms = performance.now() - t0;
      getMetrics.latency.observe(gets.ms / 1000);
    }
  }

  /** Write a verified body to the volume and admit it (which releases the lock); `t1`: when its verification began. */
  private async writeAdmit(ds: ResolvedDatastore, digest: string, key: string, lock: HeldLock, bytes: Buffer, gets: S3Gets, t1: number): Promise<FetchReply> {
    const fetched = { s3Gets: gets.count, s3Bytes: bytes.byteLength, ...gets.counters(bytes.byteLength) };
    try {
      await this.write(ds, digest, bytes);
    } catch (err) {
      await this.countFailedFetch(fetched);
      throw err;
    }
    const t2 = performance.now();
    const reply = await this.admit(key, lock, bytes.byteLength, gets);
    log.debug('fetched', { key, bytes: bytes.byteLength, getMs: Math.round(gets.ms), verifyWriteMs: Math.round(t2 - t1), admitMs: Math.round(performance.now() - t2) });
    return reply;
  }

  /** Check the body: DataBlob CRC or zstd frame, decompression, and the digest of the plain data. Resolves to the FormatError of a bad body. */
  private verify(ds: ResolvedDatastore, digest: string, bytes: Buffer): Promise<Error | undefined> {
    return span('chunk.verify', { 'chunk.layout': ds.layout }, async () => decodeAndVerifyChunk(ds.layout, digest, bytes, ds.digest)).then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** Write the verified body to the volume with room made first (see ChunkWriter). */
  private write(ds: ResolvedDatastore, digest: string, bytes: Buffer): Promise<void> {
    return span('volume.write', { 'chunk.size': bytes.byteLength }, () => this.writer.write(ds.name, digest, bytes));
  }

  /** Admit the written chunk to the index with the fetch's S3 counters and release its lock, in one step; signal pressure past capacity. */
  private async admit(key: string, lock: HeldLock, size: number, gets: S3Gets): Promise<FetchReply> {
    const { config, index, nc } = this.deps;
    const cfg = config();
    const admitted = await index.admitFetched(key, size, { token: lock.token, s3Gets: gets.count, s3Bytes: size, counters: gets.counters(size) });
    lock.released = admitted.lockReleased;
    if (admitted.usedBytes > cfg.capacity) nc.publish(subjects(cfg.namespace).indexPressure, encodeJson({ usedBytes: admitted.usedBytes }));
    return { source: 's3', size };
  }

  /** Count a fetch that failed after its GETs: a Redis error here must not turn the fetch's own status (404, 502…) into a 500. */
  private async countFailedFetch(deltas: Record<string, number>): Promise<void> {
    await this.deps.index.incrStats(deltas).catch((err) => log.warn('cannot count a failed fetch in the stats', { deltas, err }));
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
