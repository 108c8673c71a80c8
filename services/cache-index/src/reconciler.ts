import type { ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import type { Volume } from '@larder/volume';

const log = createLogger('cache-index');

/** What a reconciliation found and mended. */
export interface ReconcileReport {
  filesAdmitted: number;
  entriesRemoved: number;
  tempFilesRemoved: number;
}

/**
 * Make the index and the volume agree: admit chunk files the index lacks (for example an admission that failed
 * while Redis was unreachable; their recency comes from the file's times), drop entries whose files are gone, and
 * sweep temp files left by writers that died mid-write. A lost index is rebuilt instead (see index-watch.ts).
 */
export async function reconcile(index: ChunkIndex, volume: Volume, tempMaxAgeMs: number): Promise<ReconcileReport> {
  const tempFilesRemoved = await volume.sweepTempFiles(tempMaxAgeMs);
  const onDisk = new Map<string, { size: number; lastUsedMs: number }>();
  for await (const f of volume.listChunks({ times: true })) onDisk.set(f.key, f);
  const missing: string[] = [];
  for await (const batch of index.scan(500)) {
    for (const e of batch) {
      if (onDisk.has(e.key)) onDisk.delete(e.key);
      else missing.push(e.key);
    }
  }
  // Re-check before removing: a fetcher may have written the file since the listing.
  const gone: string[] = [];
  for (const key of missing) {
    const [store, digest] = key.split('/') as [string, string];
    if (!(await volume.hasChunk(store, digest))) gone.push(key);
  }
  const entriesRemoved = gone.length > 0 ? (await index.remove(gone), gone.length) : 0;
  for (const [key, f] of onDisk) await index.admit(key, f.size, f.lastUsedMs);
  const report = { filesAdmitted: onDisk.size, entriesRemoved, tempFilesRemoved };
  if (report.filesAdmitted || report.entriesRemoved || report.tempFilesRemoved) log.info('reconciled index and volume', { ...report });
  return report;
}
