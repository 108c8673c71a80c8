import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GcFence, TouchResult, WriterRegistration, WriterTouches } from './chunk-touches-types.js';
import { ClaimWaitTimeoutError, IndexScriptCode, assertInteger, assertKey, commandFailed, indexError, type IndexError } from './errors.js';
import { assertNamespace, gcKeys } from './keys.js';
import { guard, registerScripts, replyInt, runScript } from './script-loader.js';
import { batches, unique } from './batches.js';

/** Digests sent per script call (Lua's unpack limit is ~7000). */
const BATCH = 500;
/** A writer's heartbeat lives this long unless renewed (default). */
const DEFAULT_WRITER_TTL_MS = 30_000;
/** How often `awaitUnclaimed` asks again (default). */
const DEFAULT_POLL_MS = 100;

/** Options of {@link ChunkTouches}. */
export interface ChunkTouchesOptions {
  /** How long a writer counts as running without a heartbeat (default 30 s); renewed every third of it. */
  writerTtlMs?: number;
  /** How often `awaitUnclaimed` polls the claims (default 100 ms). */
  pollMs?: number;
  /** Told of failures nobody awaits (a writer's heartbeat, `end()`); the registration then lapses by itself. */
  onError?: (op: string, err: IndexError) => void;
}

const ANSWERS: Record<string, TouchResult> = { k: 'known', u: 'upload', c: 'claimed' };

/**
 * The GC protocol of issue 12 in Redis (see chunk-touches-types.ts for the contract), one set of keys per datastore
 * (keys.ts `gcKeys`), every step one atomic Lua script (scripts/gc-*.lua), every time the Redis server's (one clock
 * for all processes):
 * - a touch is the digest's score in the known record; `touch` refuses a chunk with a live claim ('claimed'); a
 *   chunk touched for an upload stays "unconfirmed" (never 'known' to the next writer) until `KnownChunks.record`
 *   says the upload landed;
 * - `claim` takes only digests whose last touch is before the cutoff (or absent) and without another live claim, so a
 *   touch and a claim of one digest are ordered: whichever runs first wins;
 * - a claim is a lease (`<expiryMs>:<runId>` in the claims hash). An expired claim no longer counts: a writer touches
 *   the chunk and takes it over (its claim is dropped, so the run's release will not forget the touch). The residual
 *   risk is a GC whose DeleteObjects reaches S3 after its lease expired and after a writer re-uploaded the chunk;
 *   it is negligible because the GC renews its lease while a DeleteObjects is outstanding and aborts the batch (does
 *   not send it, or stops waiting and keeps the chunks) when it cannot renew — the lease outlives any request S3
 *   still acts on by far;
 * - writers are registered with their start and a heartbeat that expires `writerTtlMs` after its last renewal;
 *   `oldestWriter` drops writers whose heartbeat expired (crashed or cut off from Redis).
 */
export class ChunkTouches implements WriterTouches, GcFence {
  private readonly writerTtlMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly redis: Redis,
    readonly namespace: string,
    private readonly opts: ChunkTouchesOptions = {},
  ) {
    assertNamespace('ChunkTouches', namespace);
    this.writerTtlMs = opts.writerTtlMs ?? DEFAULT_WRITER_TTL_MS;
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    assertInteger('ChunkTouches', 'writerTtlMs', this.writerTtlMs, 3);
    assertInteger('ChunkTouches', 'pollMs', this.pollMs, 1);
    registerScripts(redis);
  }

  async touch(store: string, digests: readonly string[], trustMs: number): Promise<TouchResult[]> {
    const op = 'ChunkTouches.touch';
    assertKey(op, 'store', store);
    assertInteger(op, 'trustMs', trustMs);
    assertDigests(op, digests);
    const k = gcKeys(this.namespace, store);
    const out: TouchResult[] = [];
    for (const batch of batches(digests, BATCH)) {
      const { values } = await runScript(this.redis, op, 'gcTouch', [k.known, k.claims, k.epoch, k.unconfirmed], [trustMs, ...batch]);
      const answers = values[0];
      if (typeof answers !== 'string' || answers.length !== batch.length || ![...answers].every((c) => c in ANSWERS)) {
        throw indexError(IndexScriptCode.UNEXPECTED_REPLY, op, `answers ${JSON.stringify(answers)} for ${batch.length} digests`);
      }
      for (const c of answers) out.push(ANSWERS[c]!);
    }
    return out;
  }

  async awaitUnclaimed(store: string, digests: readonly string[], timeoutMs: number): Promise<void> {
    const op = 'ChunkTouches.awaitUnclaimed';
    assertKey(op, 'store', store);
    assertInteger(op, 'timeoutMs', timeoutMs);
    assertDigests(op, digests);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const claimed = await this.claimedCount(store, digests);
      if (claimed === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new ClaimWaitTimeoutError(store, claimed, timeoutMs);
      await sleep(Math.min(this.pollMs, left));
    }
  }

  async beginWriter(store: string, name: string): Promise<WriterRegistration> {
    const op = 'ChunkTouches.beginWriter';
    assertKey(op, 'store', store);
    assertKey(op, 'name', name);
    const id = `${name}:${randomUUID()}`;
    const startedAt = await this.heartbeat(store, id);
    let ended = false;
    const timer = setInterval(
      () => {
        this.heartbeat(store, id).catch((err: unknown) => this.opts.onError?.('ChunkTouches.heartbeat', commandFailed('ChunkTouches.heartbeat', err)));
      },
      Math.floor(this.writerTtlMs / 3),
    );
    timer.unref();
    return {
      id,
      startedAt,
      end: async () => {
        if (ended) return;
        ended = true;
        clearInterval(timer);
        const k = gcKeys(this.namespace, store);
        // Never rejects (it runs in `finally` blocks): a registration that could not be removed lapses with its heartbeat.
        try {
          await guard('ChunkTouches.endWriter', () => this.redis.multi().zrem(k.writers, id).zrem(k.heartbeats, id).exec());
        } catch (err) {
          this.opts.onError?.('ChunkTouches.endWriter', commandFailed('ChunkTouches.endWriter', err));
        }
      },
    };
  }

  async oldestWriter(store: string): Promise<number | undefined> {
    const op = 'ChunkTouches.oldestWriter';
    assertKey(op, 'store', store);
    const k = gcKeys(this.namespace, store);
    const { values } = await runScript(this.redis, op, 'gcOldestWriter', [k.writers, k.heartbeats], []);
    return values.length === 0 ? undefined : replyInt(op, values[0]);
  }

  async touchEpoch(store: string): Promise<number | undefined> {
    const op = 'ChunkTouches.touchEpoch';
    assertKey(op, 'store', store);
    const value = await guard(op, () => this.redis.get(gcKeys(this.namespace, store).epoch));
    return value === null ? undefined : replyInt(op, value);
  }

  /**
   * The touch epoch, started now (Redis time) when missing: for a GC that finds none, since every writer touches from
   * now on. A store nobody writes to would otherwise never get one, and never be swept. Not part of GcFence.
   */
  async startTouchEpoch(store: string): Promise<number> {
    const op = 'ChunkTouches.startTouchEpoch';
    assertKey(op, 'store', store);
    const key = gcKeys(this.namespace, store).epoch;
    const [s, us] = await guard(op, () => this.redis.time());
    await guard(op, () => this.redis.set(key, Number(s) * 1000 + Math.floor(Number(us) / 1000), 'NX'));
    const value = await guard(op, () => this.redis.get(key));
    return replyInt(op, value);
  }

  async claim(store: string, runId: string, digests: readonly string[], cutoffMs: number, leaseMs: number): Promise<string[]> {
    const op = 'ChunkTouches.claim';
    assertKey(op, 'store', store);
    assertKey(op, 'runId', runId);
    assertInteger(op, 'cutoffMs', cutoffMs);
    assertInteger(op, 'leaseMs', leaseMs, 1);
    assertDigests(op, digests);
    const k = gcKeys(this.namespace, store);
    const out: string[] = [];
    for (const batch of batches(unique(digests), BATCH)) {
      const { values } = await runScript(this.redis, op, 'gcClaim', [k.known, k.claims], [runId, cutoffMs, leaseMs, ...batch]);
      for (const v of values) out.push(String(v));
    }
    return out;
  }

  async renew(store: string, runId: string, leaseMs: number): Promise<void> {
    const op = 'ChunkTouches.renew';
    assertKey(op, 'store', store);
    assertKey(op, 'runId', runId);
    assertInteger(op, 'leaseMs', leaseMs, 1);
    await runScript(this.redis, op, 'gcRenew', [gcKeys(this.namespace, store).claims], [runId, leaseMs]);
  }

  async release(store: string, runId: string, deleted: readonly string[], kept: readonly string[]): Promise<void> {
    const op = 'ChunkTouches.release';
    assertKey(op, 'store', store);
    assertKey(op, 'runId', runId);
    assertDigests(op, deleted);
    assertDigests(op, kept);
    const k = gcKeys(this.namespace, store);
    for (const batch of batches(unique(deleted), BATCH)) await runScript(this.redis, op, 'gcRelease', [k.known, k.claims], [runId, batch.length, ...batch]);
    for (const batch of batches(unique(kept), BATCH)) await runScript(this.redis, op, 'gcRelease', [k.known, k.claims], [runId, 0, ...batch]);
  }

  /** How many of `digests` hold a live claim. */
  private async claimedCount(store: string, digests: readonly string[]): Promise<number> {
    const op = 'ChunkTouches.awaitUnclaimed';
    const k = gcKeys(this.namespace, store);
    let claimed = 0;
    for (const batch of batches(unique(digests), BATCH)) {
      const { values } = await runScript(this.redis, op, 'gcClaimed', [k.claims], batch);
      claimed += replyInt(op, values[0]);
    }
    return claimed;
  }

  /** Register writer `id` or renew its heartbeat; its start (ms, Redis time). */
  private async heartbeat(store: string, id: string): Promise<number> {
    const op = 'ChunkTouches.beginWriter';
    const k = gcKeys(this.namespace, store);
    const { values } = await runScript(this.redis, op, 'gcWriter', [k.writers, k.heartbeats], [id, this.writerTtlMs]);
    return replyInt(op, values[0]);
  }
}

function assertDigests(op: string, digests: readonly string[]): void {
  if (!Array.isArray(digests)) throw indexError(IndexScriptCode.BAD_ARGUMENT, op, 'digests must be an array');
  for (const d of digests) assertKey(op, 'digest', d);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
