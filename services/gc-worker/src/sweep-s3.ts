import { DeleteObjectsCommand } from '@aws-sdk/client-s3';
import type { ResolvedDatastore } from '@larder/config';
import type { GcFence } from '@larder/redis';
import { classifyS3Error, type RetryPolicy, type S3Client } from '@larder/s3';
import { createLogger } from '@larder/telemetry';
import { listChunkPages, type ChunkObject } from './chunk-listing.js';
import { DigestReader } from './digest-file.js';
import { checkCancelled, GcAbort } from './gc-errors.js';

const log = createLogger('gc-worker');

/** Keys per DeleteObjects request (S3's limit). */
export const DELETE_BATCH = 1000;
/** DeleteObjects attempts per batch (failed requests and keys answered with a per-key error are sent again). */
const KEY_ATTEMPTS = 4;

export interface S3SweepOptions {
  client: S3Client;
  policy: RetryPolicy;
  fence: GcFence;
  runId: string;
  /** The sorted digest file of the mark. */
  marked: string;
  /** min(run start, oldest writer's start) − grace: objects modified after it are kept (grace), touches after it keep a chunk (claim). */
  cutoffMs: number;
  apply: boolean;
  /** How long a claim lives unless renewed (renewed every third of it while a delete is outstanding). */
  leaseMs: number;
  signal: AbortSignal;
  progress: (listed: number) => void;
}

export interface S3SweepResult {
  chunks: number;
  bytes: number;
  keptByGrace: number;
  keptByTouch: number;
}

/**
 * Delete from S3 the chunk objects no index references, older than the cutoff and not touched by a writer since:
 * a streaming merge-join of the LIST (digest order) against the marked file; candidates, in batches of 1,000 across
 * pages, are claimed in the fence, deleted with DeleteObjects and released. A dry run claims and deletes nothing and counts the candidates.
 * A LIST failure stops the sweep (throws) before anything of that page is deleted; `out` holds the counts so far.
 */
export async function sweepS3(ds: ResolvedDatastore, opts: S3SweepOptions, out: S3SweepResult = { chunks: 0, bytes: 0, keptByGrace: 0, keptByTouch: 0 }): Promise<S3SweepResult> {
  const reader = await DigestReader.open(opts.marked);
  let listed = 0;
  try {
    let cur = reader.next();
    // Candidates gather across LIST pages into full DeleteObjects batches: one request per 1,000 deletes, not one per
    // page (unreferenced chunks are spread over every page). Those of a page whose successor fails to list are not deleted.
    let candidates: ChunkObject[] = [];
    const pages = listChunkPages(opts.client, ds, opts.policy)[Symbol.asyncIterator]();
    for (;;) {
      let step: IteratorResult<ChunkObject[]>;
      try {
        step = await pages.next();
      } catch (err) {
        throw new GcAbort('failed', `listing the chunks of ${ds.name} in S3 failed, S3 sweep stopped: ${(err as Error).message}`, { cause: err });
      }
      if (step.done) break;
      for (const obj of step.value) {
        listed++;
        const digest = Buffer.from(obj.digest, 'hex');
        while (cur && cur.compare(digest) < 0) cur = reader.next();
        if (cur && cur.compare(digest) === 0) continue;
        if (obj.lastModified > opts.cutoffMs) out.keptByGrace++;
        else candidates.push(obj);
      }
      while (candidates.length >= DELETE_BATCH) {
        await deleteBatch(ds, candidates.slice(0, DELETE_BATCH), opts, out);
        candidates = candidates.slice(DELETE_BATCH);
      }
      opts.progress(listed);
      checkCancelled(opts.signal);
    }
    if (candidates.length > 0) await deleteBatch(ds, candidates, opts, out);
  } finally {
    await reader.close();
  }
  return out;
}

async function deleteBatch(ds: ResolvedDatastore, batch: ChunkObject[], opts: S3SweepOptions, out: S3SweepResult): Promise<void> {
  if (!opts.apply) {
    out.chunks += batch.length;
    out.bytes += batch.reduce((s, o) => s + o.size, 0);
    return;
  }
  const byDigest = new Map(batch.map((o) => [o.digest, o]));
  const claimed = await opts.fence.claim(ds.name, opts.runId, [...byDigest.keys()], opts.cutoffMs, opts.leaseMs);
  out.keptByTouch += batch.length - claimed.length;
  if (claimed.length === 0) return;
  const { fence, runId, leaseMs } = opts;
  // The lease must outlive every request S3 may still act on: renewed before each request and while it is
  // outstanding; a failed renewal aborts the request (its keys count as possibly deleted).
  const lost = new AbortController();
  const renew = setInterval(
    () => {
      fence.renew(ds.name, runId, leaseMs).catch((err: unknown) => lost.abort(err));
    },
    Math.max(50, Math.floor(leaseMs / 3)),
  );
  let pending = claimed.map((d) => (byDigest.get(d) as ChunkObject).key);
  const deleted = new Set<string>();
  /** Keys of a request that failed: perhaps deleted. */
  const uncertain = new Set<string>();
  let failure: unknown;
  try {
    for (let attempt = 0; pending.length > 0 && attempt < KEY_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, opts.policy.backoffMs * 2 ** attempt));
      if (lost.signal.aborted) {
        failure = lost.signal.reason;
        break;
      }
      try {
        await fence.renew(ds.name, runId, leaseMs);
      } catch (err) {
        failure = err;
        break;
      }
      const keys = pending;
      let res;
      try {
        res = await opts.client.send(new DeleteObjectsCommand({ Bucket: ds.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: false } }), {
          abortSignal: AbortSignal.any([AbortSignal.timeout(opts.policy.timeoutMs), lost.signal]),
        });
      } catch (err) {
        for (const k of keys) uncertain.add(k);
        failure = lost.signal.aborted ? lost.signal.reason : err;
        if (lost.signal.aborted || !classifyS3Error(err).transient) break;
        continue;
      }
      failure = undefined;
      const gone = new Set((res.Deleted ?? []).map((d) => d.Key));
      for (const k of keys) if (gone.has(k)) deleted.add(k);
      pending = keys.filter((k) => !gone.has(k));
      if (pending.length > 0) {
        const errs = (res.Errors ?? []).slice(0, 3).map((e) => `${e.Key}: ${e.Code ?? 'error'}`);
        log.warn('S3 did not delete some chunks', { store: ds.name, keys: pending.length, attempt: attempt + 1, errors: errs });
      }
    }
  } finally {
    clearInterval(renew);
  }
  const digestOf = new Map(batch.map((o) => [o.key, o.digest]));
  // Possibly deleted counts as deleted for the known record (forgotten: writers upload it again); certainly kept is released.
  const forgotten = [...deleted, ...pending.filter((k) => uncertain.has(k))].map((k) => digestOf.get(k) as string);
  const kept = pending.filter((k) => !uncertain.has(k)).map((k) => digestOf.get(k) as string);
  await releaseClaims(ds, opts, forgotten, kept);
  for (const o of batch) {
    if (!deleted.has(o.key)) continue;
    out.chunks++;
    out.bytes += o.size;
  }
  if (pending.length > 0 && failure !== undefined) {
    throw new GcAbort('failed', `deleting chunks of ${ds.name} from S3 failed, S3 sweep stopped: ${failure instanceof Error ? failure.message : 'lost its claims'}`, {
      cause: failure,
    });
  }
  if (pending.length > 0) log.warn('chunks left in S3 after failed deletes', { store: ds.name, chunks: pending.length });
}

async function releaseClaims(ds: ResolvedDatastore, opts: S3SweepOptions, deleted: string[], kept: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await opts.fence.release(ds.name, opts.runId, deleted, kept);
      return;
    } catch (err) {
      // Unreleased claims expire with their lease: writers wait for them at most that long.
      if (attempt >= 3) throw new GcAbort('failed', `releasing GC claims of ${ds.name} failed (they expire with their lease): ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
}
