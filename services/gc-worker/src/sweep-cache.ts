import { encodeJson, subjects, type EvictedEvent, type NatsConnection } from '@larder/bus';
import type { ChunkIndex } from '@larder/redis';
import { parseChunkKey, type Volume } from '@larder/volume';
import type { DigestSet } from './digest-file.js';
import { checkCancelled } from './gc-errors.js';

/** Keys removed per step: one remove-chunks call, one unlink each, one `indexEvicted` event. */
const BATCH = 500;

export interface CacheSweepDeps {
  nc: NatsConnection;
  index: ChunkIndex;
  volume: Volume;
  namespace: string;
}

/**
 * Remove from the cache the chunks of `store` that no index references: the way eviction removes them (the index
 * entries and their bytes from `used` in one atomic step, then the files unlinked, then `indexEvicted` published so that
 * open files are closed). A dry run (`apply` false) only counts.
 */
export async function sweepCache(
  deps: CacheSweepDeps,
  store: string,
  marked: DigestSet,
  opts: { apply: boolean; signal: AbortSignal; progress: (done: number) => void },
  out: { chunks: number; bytes: number } = { chunks: 0, bytes: 0 },
): Promise<{ chunks: number; bytes: number }> {
  let seen = 0;
  let batch: { key: string; digest: string; size: number }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const victims = batch;
    batch = [];
    if (opts.apply) {
      const keys = victims.map((v) => v.key);
      await deps.index.remove(keys);
      // Unlink, never truncate: a reader that has the file open still reads it whole.
      await Promise.all(victims.map((v) => deps.volume.removeChunk(store, v.digest)));
      deps.nc.publish(subjects(deps.namespace).indexEvicted, encodeJson({ keys } satisfies EvictedEvent));
    }
    out.chunks += victims.length;
    out.bytes += victims.reduce((s, v) => s + v.size, 0);
  };
  for await (const page of deps.index.scan()) {
    for (const { key, size } of page) {
      seen++;
      const parsed = parseChunkKey(key);
      if (!parsed || parsed.store !== store) continue;
      if (marked.has(Buffer.from(parsed.digest, 'hex'))) continue;
      batch.push({ key, digest: parsed.digest, size });
      if (batch.length >= BATCH) await flush();
    }
    opts.progress(seen);
    // Between batches: every removal so far is complete (index, file and event).
    if (opts.signal.aborted) {
      await flush();
      checkCancelled(opts.signal);
    }
  }
  await flush();
  return out;
}
