import type { ResolvedDatastore } from '@larder/config';
import type { KnownChunks, WriterTouches } from '@larder/redis';

/** How long, at most, a writer waits for GC to release a chunk it claimed (default of {@link OwnedWrites.claimWaitMs}). */
const DEFAULT_CLAIM_WAIT_MS = 5 * 60_000;

/**
 * The GC protocol for writes to a datastore Larder owns (`datastores.*.owned`, issue 12): the writer registers while it
 * runs, touches every chunk before it uploads or skips it, records an upload once it landed, and uploads its index last.
 * The implementations are `ChunkTouches` and `KnownChunks` of @larder/redis.
 */
export interface OwnedWrites {
  touches: WriterTouches;
  known: Pick<KnownChunks, 'record'>;
  /** How long a touch vouches that the chunk is in S3 (`gateway.knownChunkTtl`). */
  trustMs: number;
  /** How long to wait for GC to release a claimed chunk before failing (default 5 min). */
  claimWaitMs?: number;
}

/** Throw unless a write to `ds` can follow the GC protocol: an owned datastore needs `owned` (Redis) to record it. */
export function ownedWrites(ds: ResolvedDatastore, owned: OwnedWrites | undefined): OwnedWrites | undefined {
  if (!ds.owned) return undefined;
  if (!owned) throw new Error(`datastore ${ds.name} is owned by Larder: its writes must be recorded for GC (Redis), and no record was given`);
  return owned;
}

/** Run `fn` as a registered writer of `ds` (when owned): GC's cutoff stays before its start until it ends, also on failure. */
export async function asWriter<T>(ds: ResolvedDatastore, owned: OwnedWrites | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (!owned) return fn();
  const writer = await owned.touches.beginWriter(ds.name, name);
  try {
    return await fn();
  } finally {
    await writer.end();
  }
}

/**
 * Touch a chunk of an owned datastore before its upload or skip: 'known' (S3 has it, skip) or 'upload'. A chunk GC
 * claimed is waited for, then touched again. Rejects when Redis cannot record the touch: the write must then fail.
 */
export async function touchChunk(ds: ResolvedDatastore, owned: OwnedWrites, digest: string): Promise<'known' | 'upload'> {
  const deadline = Date.now() + (owned.claimWaitMs ?? DEFAULT_CLAIM_WAIT_MS);
  for (;;) {
    const [answer] = await owned.touches.touch(ds.name, [digest], owned.trustMs);
    if (answer === 'known' || answer === 'upload') return answer;
    await owned.touches.awaitUnclaimed(ds.name, [digest], Math.max(0, deadline - Date.now()));
  }
}
