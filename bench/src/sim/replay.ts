import type { PolicyFactory } from './policies/index.js';
import type { Trace } from './trace.js';

/** Shares of the working set the simulator sizes caches at. */
export const CACHE_SHARES = [0.01, 0.05, 0.1, 0.25] as const;

/** What one policy did on one trace at one cache size. */
export interface ReplayResult {
  policy: string;
  share: number;
  capacityBytes: number;
  refs: number;
  /** Misses: each is one S3 GET of a chunk. */
  misses: number;
  missRatio: number;
  /** Bytes those GETs fetched. */
  bytesFetched: number;
}

/** Replay `trace` against a fresh policy of `share` × the working set. */
export function replay(trace: Trace, policy: { name: string; make: PolicyFactory }, share: number): ReplayResult {
  const capacityBytes = Math.floor(trace.uniqueBytes * share);
  const cache = policy.make(capacityBytes);
  const { refs, sizes, scan } = trace;
  let misses = 0;
  let bytesFetched = 0;
  for (let i = 0; i < refs.length; i++) {
    const id = refs[i] as number;
    const size = sizes[id] as number;
    if (!cache.access(id, size, scan[i] === 1)) {
      misses++;
      bytesFetched += size;
    }
  }
  return { policy: policy.name, share, capacityBytes, refs: refs.length, misses, missRatio: refs.length ? misses / refs.length : 0, bytesFetched };
}
