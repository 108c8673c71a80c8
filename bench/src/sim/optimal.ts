import type { ReplayResult } from './replay.js';
import type { Trace } from './trace.js';

/** Name of the bound in reports; it is not a candidate (it needs the future). */
export const OPTIMAL = 'OPT (bound)';

/**
 * Belady's MIN in bytes, as a bound on what any policy could save: on a miss the chunk is admitted, then the chunks
 * whose next use is farthest away (never, first) are evicted until the cache fits, which may be the new chunk itself
 * (a bypass). With chunks of different sizes this is a heuristic, not the exact optimum (that is NP-hard), but
 * it is the usual reference and close to it.
 */
export function replayOptimal(trace: Trace, share: number): ReplayResult {
  const capacityBytes = Math.floor(trace.uniqueBytes * share);
  const { refs, sizes } = trace;
  const n = refs.length;
  // nextUse[i]: position of the next reference to refs[i], or n + id when there is none (distinct, farthest).
  const nextUse = new Float64Array(n);
  const lastSeen = new Map<number, number>();
  for (let i = n - 1; i >= 0; i--) {
    const id = refs[i] as number;
    nextUse[i] = lastSeen.get(id) ?? n + id;
    lastSeen.set(id, i);
  }
  const held = new Map<number, number>(); // id -> its next use
  const heap = new MaxHeap();
  let used = 0;
  let misses = 0;
  let bytesFetched = 0;
  for (let i = 0; i < n; i++) {
    const id = refs[i] as number;
    const size = sizes[id] as number;
    const next = nextUse[i] as number;
    if (held.has(id)) {
      held.set(id, next);
      heap.push(next, id);
      continue;
    }
    misses++;
    bytesFetched += size;
    if (size > capacityBytes) continue;
    held.set(id, next);
    heap.push(next, id);
    used += size;
    while (used > capacityBytes) {
      const [prio, victim] = heap.pop() as [number, number];
      if (held.get(victim) !== prio) continue; // stale
      held.delete(victim);
      used -= sizes[victim] as number;
    }
  }
  return { policy: OPTIMAL, share, capacityBytes, refs: n, misses, missRatio: n ? misses / n : 0, bytesFetched };
}

/** A binary max-heap of (priority, id); stale entries are skipped by the caller. */
class MaxHeap {
  private prio: number[] = [];
  private ids: number[] = [];

  push(p: number, id: number): void {
    let i = this.prio.length;
    this.prio.push(p);
    this.ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.prio[parent] as number) >= p) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): [number, number] | undefined {
    if (this.prio.length === 0) return undefined;
    const top: [number, number] = [this.prio[0] as number, this.ids[0] as number];
    const lastP = this.prio.pop() as number;
    const lastId = this.ids.pop() as number;
    if (this.prio.length > 0) {
      this.prio[0] = lastP;
      this.ids[0] = lastId;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.prio.length && (this.prio[l] as number) > (this.prio[m] as number)) m = l;
        if (r < this.prio.length && (this.prio[r] as number) > (this.prio[m] as number)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private swap(a: number, b: number): void {
    [this.prio[a], this.prio[b]] = [this.prio[b] as number, this.prio[a] as number];
    [this.ids[a], this.ids[b]] = [this.ids[b] as number, this.ids[a] as number];
  }
}
