import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { IndexScriptCode, assertInteger, assertKey, commandFailed, indexError } from './errors.js';
import { type IndexKeys, assertNamespace, epochKey, flightKey, indexKeys, rebuildKeys } from './keys.js';
import { guard, registerScripts, replyInt, runScript } from './script-loader.js';
import type { AdmitFetchedResult, AdmitResult, EvictedChunk, IndexEpoch, IndexProbe, IndexTotals, RebuildChunk } from './types.js';
import { batches } from './batches.js';

/** Keys sent per touch/remove script call. */
export const SCRIPT_BATCH = 500;
/** Default cap on chunks evicted by one {@link ChunkIndex.evictTo} call. */
export const DEFAULT_EVICT_MAX_COUNT = 1_000;
/** Default COUNT hint of {@link ChunkIndex.scan}. */
export const DEFAULT_SCAN_BATCH = 500;

/**
 * The LRU index of the chunks held on a cache node's volume, shared in Redis by every process of
 * the node. Every change of membership updates the byte total in the same atomic Lua step.
 */
export class ChunkIndex {
  private readonly keys: IndexKeys;
  private readonly epochKey: string;

  /** Bind to the index of `namespace` (keys `{namespace}:idx:*`) on `redis`. */
  constructor(
    private readonly redis: Redis,
    readonly namespace: string,
  ) {
    assertNamespace('ChunkIndex', namespace);
    this.keys = indexKeys(namespace);
    this.epochKey = epochKey(namespace);
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
    const replies = await Promise.all(batches(unique, SCRIPT_BATCH).map((batch) => runScript(this.redis, op, 'touchChunks', [this.keys.lru], [nowMs, ...batch])));
    return replies.reduce((sum, { values }) => sum + replyInt(op, values[0]), 0);
  }

  /** Atomically remove least-recently-used members until usedBytes <= targetBytes, at most maxCount per call; returns what was removed (caller deletes the files). */
  async evictTo(targetBytes: number, maxCount: number = DEFAULT_EVICT_MAX_COUNT): Promise<EvictedChunk[]> {
    const op = 'ChunkIndex.evictTo';
    assertInteger(op, 'targetBytes', targetBytes);
    assertInteger(op, 'maxCount', maxCount);
    const { lru, size, used, stats } = this.keys;
    const { values } = await runScript(this.redis, op, 'evictToTarget', [lru, size, used, stats], [targetBytes, maxCount]);
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
    const replies = await Promise.all(batches(unique, SCRIPT_BATCH).map((batch) => runScript(this.redis, op, 'removeChunks', [lru, size, used], batch)));
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
    for (const [err] of results) if (err) throw commandFailed(op, err);
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

  /** Remove every key of this index namespace (tests, `reset`), the epoch marker too; flight locks are not touched. */
  async clear(): Promise<void> {
    const { lru, size, used, stats } = this.keys;
    await guard('ChunkIndex.clear', () => this.redis.unlink(lru, size, used, stats, this.epochKey));
  }

  /**
   * The epoch marker and the server's run_id in one round trip (checked every second or so by the cache-index):
   * a missing marker means the index was lost, a new run_id that Redis restarted.
   */
  async probe(): Promise<IndexProbe> {
    const op = 'ChunkIndex.probe';
    const results = await guard(op, () => this.redis.pipeline().get(this.epochKey).info('server').exec());
    for (const [err] of results ?? []) if (err) throw commandFailed(op, err);
    const [marker, info] = (results ?? []).map(([, value]) => value);
    return { epoch: parseEpoch(marker), runId: typeof info === 'string' ? /^run_id:(\w+)/m.exec(info)?.[1] : undefined };
  }

  /**
   * Start rebuilding the index (from the volume): chunks go to temporary keys with {@link IndexRebuild.add}, and
   * {@link IndexRebuild.commit} replaces the live index with them in one atomic step, so nothing ever sees a
   * half-built index. Admissions to the live index while the rebuild runs are kept (merged at commit). The
   * temporary keys expire `ttlMs` after the last add if the rebuilder dies.
   */
  beginRebuild(opts: { ttlMs?: number; nowMs?: number } = {}): IndexRebuild {
    return new IndexRebuild(this.redis, this.keys, this.epochKey, rebuildKeys(this.namespace, randomUUID()), opts.ttlMs ?? 10 * 60_000, opts.nowMs ?? Date.now());
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
    for (const [err] of results ?? []) if (err) throw commandFailed(op, err);
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

function parseEpoch(value: unknown): IndexEpoch | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const e = JSON.parse(value) as Partial<IndexEpoch>;
    if (typeof e.id === 'string' && typeof e.volume === 'string' && typeof e.builtAtMs === 'number') return { id: e.id, volume: e.volume, builtAtMs: e.builtAtMs };
  } catch {
    // not ours: treated as missing
  }
  return undefined;
}

/** A rebuild of the index in progress (see {@link ChunkIndex.beginRebuild}). */
export class IndexRebuild {
  /** When the rebuild began; live members touched or admitted since then (less a margin for clock skew) are kept at commit. */
  readonly startedAtMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly live: IndexKeys,
    private readonly epochKey: string,
    private readonly temp: { lru: string; size: string; used: string },
    private readonly ttlMs: number,
    startedAtMs: number,
  ) {
    assertInteger('IndexRebuild', 'ttlMs', ttlMs, 1);
    this.startedAtMs = startedAtMs;
  }

  /** Add chunks found on the volume (500 per script call); returns the rebuilt index's totals so far. */
  async add(chunks: readonly RebuildChunk[]): Promise<IndexTotals> {
    const op = 'IndexRebuild.add';
    let totals: IndexTotals = { usedBytes: 0, chunkCount: 0 };
    for (const batch of batches([...chunks], SCRIPT_BATCH)) {
      const args: (string | number)[] = [this.ttlMs];
      for (const c of batch) {
        assertKey(op, 'key', c.key);
        assertInteger(op, 'size', c.size);
        assertInteger(op, 'lastUsedMs', c.lastUsedMs);
        args.push(c.key, c.size, c.lastUsedMs);
      }
      const { values } = await runScript(this.redis, op, 'rebuildAdd', [this.temp.lru, this.temp.size, this.temp.used], args);
      totals = { usedBytes: replyInt(op, values[0]), chunkCount: replyInt(op, values[1]) };
    }
    return totals;
  }

  /** Replace the live index with the rebuilt one and write the epoch marker for `volume`, atomically; returns the new totals. */
  async commit(volume: string, nowMs: number = Date.now()): Promise<IndexTotals & { merged: number; epoch: IndexEpoch }> {
    const op = 'IndexRebuild.commit';
    assertKey(op, 'volume', volume);
    const epoch: IndexEpoch = { id: randomUUID(), volume, builtAtMs: nowMs };
    // Scores come from each process's clock: keep a margin so that a touch made just before the start still counts.
    const since = Math.max(0, this.startedAtMs - 5_000);
    const { lru, size, used } = this.live;
    const { values } = await runScript(
      this.redis,
      op,
      'rebuildCommit',
      [lru, size, used, this.temp.lru, this.temp.size, this.temp.used, this.epochKey],
      [since, JSON.stringify(epoch)],
    );
    return { usedBytes: replyInt(op, values[0]), chunkCount: replyInt(op, values[1]), merged: replyInt(op, values[2]), epoch };
  }

  /** Drop the temporary keys (a rebuild that will not be committed). */
  async abort(): Promise<void> {
    await guard('IndexRebuild.abort', () => this.redis.unlink(this.temp.lru, this.temp.size, this.temp.used));
  }
}
