import type { Redis } from 'ioredis';
import { commandFailed, type IndexError } from './errors.js';
import { assertNamespace, knownKey, unconfirmedKey } from './keys.js';
import { batches, unique } from './batches.js';

/** Members sent per command. */
const BATCH = 500;
/** How long {@link KnownChunks.recordSoon} gathers digests before it sends them in one pipeline. */
const RECORD_SOON_MS = 20;
/** How often, at most, one process trims a datastore's record of entries too old to be believed. */
const DEFAULT_TRIM_INTERVAL_MS = 60_000;

/** Options of {@link KnownChunks}. */
export interface KnownChunksOptions {
  /** How long a record is kept (the time-to-trust, `gateway.knownChunkTtl`): older ones are trimmed now and then by {@link KnownChunks.record}. */
  retainMs?: () => number;
  /** How often, at most, `record` trims a datastore's set in this process (default 60 s). */
  trimIntervalMs?: number;
  /** Told of every failed command: the record degrades (unknown, not recorded) instead of failing its caller. */
  onError?: (op: string, err: IndexError) => void;
}

/**
 * The node's record of which chunks are in S3 (fetched from it, written to it or found there by a HEAD), per datastore,
 * shared in Redis by every process of the node: a sorted set `{ns}:known:<store>`, member the digest, score when it was
 * recorded (ms). A PUT of a chunk recorded within the time-to-trust needs no upload.
 *
 * It only ever saves requests: while Redis is unreachable nothing is known (the PUT goes to S3) and recording fails
 * quietly (reported to `onError`), so no caller fails because of it.
 */
export class KnownChunks {
  private readonly lastTrim = new Map<string, number>();
  /** Digests waiting for {@link recordSoon}'s next send, by datastore. */
  private readonly pending = new Map<string, string[]>();
  private pendingTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    readonly namespace: string,
    private readonly opts: KnownChunksOptions = {},
  ) {
    assertNamespace('KnownChunks', namespace);
  }

  /** Record that S3 holds these chunks of `store` (now). Never rejects: false when Redis could not be told. */
  async record(store: string, digests: readonly string[], nowMs: number = Date.now()): Promise<boolean> {
    if (digests.length === 0) return true;
    const key = knownKey(this.namespace, store);
    const pipeline = this.redis.pipeline();
    for (const batch of batches(unique(digests), BATCH)) {
      const args: (string | number)[] = [];
      for (const d of batch) args.push(nowMs, d);
      pipeline.zadd(key, ...args);
      // The upload a writer touched them for (ChunkTouches.touch) landed.
      pipeline.zrem(unconfirmedKey(this.namespace, store), ...batch);
    }
    const retainMs = this.opts.retainMs?.();
    const interval = this.opts.trimIntervalMs ?? DEFAULT_TRIM_INTERVAL_MS;
    if (retainMs !== undefined && nowMs - (this.lastTrim.get(store) ?? -Infinity) >= interval) {
      this.lastTrim.set(store, nowMs);
      pipeline.zremrangebyscore(key, '-inf', `(${nowMs - retainMs}`);
      pipeline.zremrangebyscore(unconfirmedKey(this.namespace, store), '-inf', `(${nowMs - retainMs}`);
    }
    return this.exec('KnownChunks.record', () => pipeline.exec()).then((ok) => ok !== undefined);
  }

  /**
   * Record soon, with others: what a caller that does not wait for the record uses (a chunk-fetcher records every chunk
   * it GETs). Digests gathered for {@link RECORD_SOON_MS} go in one pipeline — one write to Redis instead of one per
   * chunk, which at hundreds of small casync chunks per second was a sixth of a fetcher's CPU.
   */
  recordSoon(store: string, digest: string): void {
    const list = this.pending.get(store);
    if (list) list.push(digest);
    else this.pending.set(store, [digest]);
    this.pendingTimer ??= setTimeout(() => void this.flush(), RECORD_SOON_MS);
  }

  /** Send what {@link recordSoon} gathered now; false when Redis could not be told of some of it. */
  async flush(): Promise<boolean> {
    clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    const batches = [...this.pending];
    this.pending.clear();
    const done = await Promise.all(batches.map(([store, digests]) => this.record(store, digests)));
    return done.every(Boolean);
  }

  /**
   * Whether each chunk is recorded as in S3 within the last `ttlMs` (in the order given). All false when Redis
   * cannot answer: the caller then asks S3, which costs a request but is never wrong.
   */
  async known(store: string, digests: readonly string[], ttlMs: number, nowMs: number = Date.now()): Promise<boolean[]> {
    if (digests.length === 0) return [];
    const key = knownKey(this.namespace, store);
    const since = nowMs - ttlMs;
    const out: boolean[] = [];
    for (const batch of batches(digests, BATCH)) {
      const scores = await this.run('KnownChunks.known', () => this.redis.zmscore(key, ...batch));
      if (!scores) return digests.map(() => false);
      for (const s of scores) out.push(s !== null && Number(s) >= since);
    }
    return out;
  }

  /** Drop the records of these chunks (S3 deleted them). Never rejects: false when Redis could not be told. */
  async forget(store: string, digests: readonly string[]): Promise<boolean> {
    if (digests.length === 0) return true;
    const key = knownKey(this.namespace, store);
    const pipeline = this.redis.pipeline();
    for (const batch of batches(unique(digests), BATCH)) pipeline.zrem(key, ...batch).zrem(unconfirmedKey(this.namespace, store), ...batch);
    return this.exec('KnownChunks.forget', () => pipeline.exec()).then((ok) => ok !== undefined);
  }

  /** Drop records made more than `olderThanMs` ago; how many were dropped (undefined when Redis could not answer). */
  async trim(store: string, olderThanMs: number, nowMs: number = Date.now()): Promise<number | undefined> {
    return this.run('KnownChunks.trim', () => this.redis.zremrangebyscore(knownKey(this.namespace, store), '-inf', `(${nowMs - olderThanMs}`));
  }

  /** How many chunks of `store` are recorded (old records included until trimmed). */
  async count(store: string): Promise<number | undefined> {
    return this.run('KnownChunks.count', () => this.redis.zcard(knownKey(this.namespace, store)));
  }

  /** Remove the record of `store` entirely (tests, a datastore removed). */
  async clear(store: string): Promise<void> {
    await this.run('KnownChunks.clear', () => this.redis.unlink(knownKey(this.namespace, store)));
  }

  /** `fn`'s result, or undefined after reporting its failure. */
  private async run<T>(op: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.opts.onError?.(op, commandFailed(op, err));
      return undefined;
    }
  }

  /** A pipeline's results, or undefined after reporting the first failed command. */
  private async exec(op: string, fn: () => Promise<[Error | null, unknown][] | null>): Promise<unknown[] | undefined> {
    const results = await this.run(op, fn);
    if (!results) return undefined;
    const failed = results.find(([err]) => err);
    if (failed) {
      this.opts.onError?.(op, commandFailed(op, failed[0]));
      return undefined;
    }
    return results.map(([, v]) => v);
  }
}
