import type { Redis } from 'ioredis';
import { IndexScriptCode, assertInteger, assertKey, indexError } from './errors.js';
import { type IndexKeys, assertNamespace, flightKey, indexKeys } from './keys.js';
import { guard, registerScripts, replyInt, runScript } from './script-loader.js';
import type { AdmitFetchedResult, AdmitResult, EvictedChunk, IndexTotals } from './types.js';

/** Keys sent per touch/remove script call. */
export const SCRIPT_BATCH = 500;
/** Default cap on chunks evicted by one {@link ChunkIndex.evictTo} call. */
export const DEFAULT_EVICT_MAX_COUNT = 1_000;
/** Default COUNT hint of {@link ChunkIndex.scan}. */
export const DEFAULT_SCAN_BATCH = 500;

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The LRU index of the chunks held on a cache node's volume, shared in Redis by every process of
 * the node. Every change of membership updates the byte total in the same atomic Lua step.
 */
export class ChunkIndex {
  private readonly keys: IndexKeys;

  /** Bind to the index of `namespace` (keys `{namespace}:idx:*`) on `redis`. */
  constructor(
    private readonly redis: Redis,
    readonly namespace: string,
  ) {
    assertNamespace('ChunkIndex', namespace);
    this.keys = indexKeys(namespace);
    registerScripts(redis);
  }

  /** Atomically add a chunk (or refresh it if present: size unchanged, score = now), returns new totals. */
  async admit(key: string, size: number, nowMs: number = Date.now()): Promise<AdmitResult> {
    const op = 'ChunkIndex.admit';
    assertKey(op, 'key', key);
    assertInteger(op, 'size', size);
    assertInteger(op, 'nowMs', nowMs);
    const { lru, size: sizes, used } = this.keys;
    const { values } = await runScript(this.redis, op, 'admitChunk', [lru, sizes, used], [key, size, nowMs]);
    return {
      admitted: replyInt(op, values[0]) === 1,
      usedBytes: replyInt(op, values[1]),
      chunkCount: replyInt(op, values[2]),
    };
  }

  /**
   * Finish a fetch in one atomic step: admit the chunk, add the fetch's S3 GETs and bytes (and any further
   * `counters`, such as the GETs by outcome) to the stats, and release the fetcher's single-flight lock if
   * `token` still owns it (see FlightLocks).
   */
  async admitFetched(
    key: string,
    size: number,
    fetch: { token: string; s3Gets: number; s3Bytes: number; counters?: Record<string, number> },
    nowMs: number = Date.now(),
  ): Promise<AdmitFetchedResult> {
    const op = 'ChunkIndex.admitFetched';
    assertKey(op, 'key', key);
    assertKey(op, 'token', fetch.token);
    assertInteger(op, 'size', size);
    assertInteger(op, 'nowMs', nowMs);
    assertInteger(op, 's3Gets', fetch.s3Gets);
    assertInteger(op, 's3Bytes', fetch.s3Bytes);
    const counters: (string | number)[] = [];
    for (const [field, delta] of Object.entries(fetch.counters ?? {})) {
      assertKey(op, 'counter field', field);
      assertInteger(op, `counter ${field}`, delta);
      counters.push(field, delta);
    }
    const { lru, size: sizes, used, stats } = this.keys;
    const { values } = await runScript(
      this.redis,
      op,
      'admitFetched',
      [lru, sizes, used, stats, flightKey(this.namespace, key)],
      [key, size, nowMs, fetch.token, fetch.s3Gets, fetch.s3Bytes, ...counters],
    );
    return {
      admitted: replyInt(op, values[0]) === 1,
      usedBytes: replyInt(op, values[1]),
      chunkCount: replyInt(op, values[2]),
      lockReleased: replyInt(op, values[3]) === 1,
    };
  }

  /** Batch recency update: set score=now only for members that exist (ZADD XX GT semantics); returns how many were touched. */
  async touch(keys: string[], nowMs: number = Date.now()): Promise<number> {
    const op = 'ChunkIndex.touch';
    assertInteger(op, 'nowMs', nowMs);
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    const replies = await Promise.all(
      batches(unique, SCRIPT_BATCH).map((batch) =>
        runScript(this.redis, op, 'touchChunks', [this.keys.lru], [nowMs, ...batch]),
      ),
    );
    return replies.reduce((sum, { values }) => sum + replyInt(op, values[0]), 0);
  }

  /** Atomically remove least-recently-used members until usedBytes <= targetBytes, at most maxCount per call; returns what was removed (caller deletes the files). */
  async evictTo(targetBytes: number, maxCount: number = DEFAULT_EVICT_MAX_COUNT): Promise<EvictedChunk[]> {
    const op = 'ChunkIndex.evictTo';
    assertInteger(op, 'targetBytes', targetBytes);
    assertInteger(op, 'maxCount', maxCount);
    const { lru, size, used, stats } = this.keys;
    const { values } = await runScript(this.redis, op, 'evictToTarget', [lru, size, used, stats], [
      targetBytes,
      maxCount,
    ]);
    const evicted: EvictedChunk[] = [];
    for (let i = 1; i < values.length; i += 2) {
      const key = values[i];
      if (typeof key !== 'string') {
        throw indexError(IndexScriptCode.UNEXPECTED_REPLY, op, `expected a chunk key, got ${JSON.stringify(key)}`);
      }
      evicted.push({ key, size: replyInt(op, values[i + 1]) });
    }
    return evicted;
  }

  /** Atomically remove specific members (e.g. files found missing); returns bytes removed. Each batch of 500 keys is one atomic step. */
  async remove(keys: string[]): Promise<number> {
    const op = 'ChunkIndex.remove';
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    const { lru, size, used } = this.keys;
    const replies = await Promise.all(
      batches(unique, SCRIPT_BATCH).map((batch) => runScript(this.redis, op, 'removeChunks', [lru, size, used], batch)),
    );
    return replies.reduce((sum, { values }) => sum + replyInt(op, values[0]), 0);
  }

  /** Whether the chunk is in the index. */
  async has(key: string): Promise<boolean> {
    return guard('ChunkIndex.has', async () => (await this.redis.hexists(this.keys.size, key)) === 1);
  }

  /** The recorded size of the chunk in bytes, or undefined if it is not in the index. */
  async sizeOf(key: string): Promise<number | undefined> {
    const op = 'ChunkIndex.sizeOf';
    const value = await guard(op, () => this.redis.hget(this.keys.size, key));
    return value === null ? undefined : replyInt(op, value);
  }

  /** Byte total and chunk count, read atomically together. */
  async totals(): Promise<IndexTotals> {
    const op = 'ChunkIndex.totals';
    const results = await guard(op, () => this.redis.multi().get(this.keys.used).zcard(this.keys.lru).exec());
    if (!results) throw indexError(IndexScriptCode.UNEXPECTED_REPLY, op, 'transaction aborted');
    for (const [err] of results) if (err) throw indexError(IndexScriptCode.COMMAND_FAILED, op, err.message, err);
    const [used, count] = results.map(([, value]) => value);
    return { usedBytes: used === null ? 0 : replyInt(op, used), chunkCount: replyInt(op, count) };
  }

  /**
   * Iterate all members with sizes (HSCAN of the size hash, for reconciliation with the volume).
   * SCAN semantics: members present throughout are yielded at least once, rarely twice if the
   * index is resized meanwhile; members added or removed meanwhile may or may not appear.
   */
  async *scan(batch: number = DEFAULT_SCAN_BATCH): AsyncIterable<EvictedChunk[]> {
    const op = 'ChunkIndex.scan';
    assertInteger(op, 'batch', batch, 1);
    let cursor = '0';
    do {
      const [next, flat] = await guard(op, () => this.redis.hscan(this.keys.size, cursor, 'COUNT', batch));
      cursor = next;
      const chunks: EvictedChunk[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        chunks.push({ key: flat[i]!, size: replyInt(op, flat[i + 1]) });
      }
      if (chunks.length > 0) yield chunks;
    } while (cursor !== '0');
  }

  /** Remove every key of this index namespace (tests, `reset`); flight locks are not touched. */
  async clear(): Promise<void> {
    const { lru, size, used, stats } = this.keys;
    await guard('ChunkIndex.clear', () => this.redis.unlink(lru, size, used, stats));
  }

  /** Add integer deltas to the stats counters (one pipeline, one HINCRBY each; zeros skipped). */
  async incrStats(deltas: Record<string, number>): Promise<void> {
    const op = 'ChunkIndex.incrStats';
    const entries = Object.entries(deltas).filter(([, delta]) => delta !== 0);
    for (const [field, delta] of entries) {
      assertKey(op, 'stats field', field);
      assertInteger(op, `delta of ${field}`, delta, Number.MIN_SAFE_INTEGER);
    }
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [field, delta] of entries) pipeline.hincrby(this.keys.stats, field, delta);
    const results = await guard(op, () => pipeline.exec());
    for (const [err] of results ?? []) if (err) throw indexError(IndexScriptCode.COMMAND_FAILED, op, err.message, err);
  }

  /** All stats counters as numbers (counters never incremented are absent). */
  async stats(): Promise<Record<string, number>> {
    const op = 'ChunkIndex.stats';
    const raw = await guard(op, () => this.redis.hgetall(this.keys.stats));
    const out: Record<string, number> = {};
    for (const [field, value] of Object.entries(raw)) out[field] = replyInt(op, value);
    return out;
  }
}
