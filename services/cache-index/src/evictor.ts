import type { Config } from '@larder/config';
import type { ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import { parseChunkKey, type Volume } from '@larder/volume';
import { effectiveCapacity } from './capacity.js';

const log = createLogger('cache-index');

/** What one eviction pass saw and did. */
export interface EvictionReport {
  capacityBytes: number;
  effectiveCapacityBytes: number;
  usedBytes: number;
  chunkCount: number;
  evictedChunks: number;
  evictedBytes: number;
}

/**
 * Keeps used bytes within the effective capacity: evicts least-recently-used chunks from the index, then unlinks their
 * files. Paused while the index is rebuilt, so that it never acts on a half-built index.
 */
export class Evictor {
  private running: Promise<EvictionReport> | undefined;
  private again = false;
  private paused = 0;

  constructor(private readonly deps: { config: () => Config; index: ChunkIndex; volume: Volume }) {}

  /** Run a pass; concurrent calls share the running pass and schedule at most one more. */
  run(): Promise<EvictionReport> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.run().catch((err) => log.error('eviction pass failed', { err }));
      }
    });
    return this.running;
  }

  /** Stop evicting (a pass in progress stops after its current batch) and wait until no pass runs; undo with {@link resume}. */
  async pause(): Promise<void> {
    this.paused++;
    await this.running?.catch(() => {});
  }

  /** Undo one {@link pause}. */
  resume(): void {
    this.paused = Math.max(0, this.paused - 1);
  }

  /** Whether eviction is paused. */
  get isPaused(): boolean {
    return this.paused > 0;
  }

  /** Capacity now, from the config and the volume's filesystem. */
  async capacity(usedBytes: number): Promise<{ configured: number; effective: number }> {
    const cfg = this.deps.config();
    const fs = await this.deps.volume.filesystem();
    const effective = effectiveCapacity({
      configuredBytes: cfg.capacity,
      usedBytes,
      fsTotalBytes: fs.totalBytes,
      fsFreeBytes: fs.freeBytes,
      reserveFraction: cfg.volume.reserve,
    });
    return { configured: cfg.capacity, effective };
  }

  private async pass(): Promise<EvictionReport> {
    const { index, volume } = this.deps;
    let evictedChunks = 0;
    let evictedBytes = 0;
    let totals = await index.totals();
    const cap = await this.capacity(totals.usedBytes);
    while (!this.isPaused && totals.usedBytes > cap.effective) {
      const victims = await index.evictTo(cap.effective, 256);
      if (victims.length === 0) break;
      // Unlink, never truncate: a reader that has the file open still reads it whole.
      await Promise.all(
        victims.map(async (v) => {
          const parsed = parseChunkKey(v.key);
          if (parsed) await volume.removeChunk(parsed.store, parsed.digest);
        }),
      );
      evictedChunks += victims.length;
      evictedBytes += victims.reduce((s, v) => s + v.size, 0);
      totals = await index.totals();
    }
    if (evictedChunks > 0) log.info('evicted', { chunks: evictedChunks, bytes: evictedBytes, usedBytes: totals.usedBytes, capacity: cap.effective });
    return {
      capacityBytes: cap.configured,
      effectiveCapacityBytes: cap.effective,
      usedBytes: totals.usedBytes,
      chunkCount: totals.chunkCount,
      evictedChunks,
      evictedBytes,
    };
  }
}
