import type { Config } from '@larder/config';
import type { ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import { parseChunkKey, type Volume } from '@larder/volume';
import { effectiveCapacity } from './capacity.js';
import { evictedBytes as evictedBytesTotal, evictions } from '@larder/metrics';

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
 * Evicted bytes are counted as coming back for this long: a file evicted while a reader has it open keeps its
 * space until the reader closes it (gateways close evicted files at once, or when the read in progress ends).
 */
export const EVICTED_GRACE_MS = 5000;

/** Bytes evicted in one batch, and the filesystem's use by other things than the cache just before (see {@link Evictor.capacity}). */
interface Freeing {
  bytes: number;
  atMs: number;
  otherBefore: number;
}

/** Room asked for by the writers that share one pass: the sum of their requests and the largest single write. */
interface Room {
  sum: number;
  largest: number;
}

/**
 * Keeps used bytes within the effective capacity: evicts least-recently-used chunks from the index, then unlinks their
 * files and publishes their keys (so that whoever holds one open closes it). Paused while the index is rebuilt, so
 * that it never acts on a half-built index.
 */
export class Evictor {
  private running: Promise<EvictionReport> | undefined;
  /** The pass that starts when the running one ends, shared by every call made meanwhile, and the room they asked for. */
  private next: Promise<EvictionReport> | undefined;
  private nextRoom: Room = { sum: 0, largest: 0 };
  private paused = 0;
  private readonly freeing: Freeing[] = [];

  constructor(private readonly deps: { config: () => Config; index: ChunkIndex; volume: Volume; evicted?: (keys: string[]) => void }) {}

  /**
   * Run a pass: evict until used bytes are within the effective capacity, less `roomBytes` that writers need
   * (`largestBytes` the largest single write among them). A call while a pass runs gets the next pass, one shared by
   * every such call, which makes room for all of them: their sum, but no more than a quarter of the capacity unless
   * one write needs more (chunks just fetched, about to be read, are not evicted for writers that can wait).
   */
  run(roomBytes = 0, largestBytes = roomBytes): Promise<EvictionReport> {
    if (this.running || this.next) {
      this.nextRoom.sum += roomBytes;
      this.nextRoom.largest = Math.max(this.nextRoom.largest, largestBytes);
      this.next ??= (this.running ?? Promise.resolve())
        .catch(() => {})
        .then(() => {
          const room = this.nextRoom;
          this.next = undefined;
          this.nextRoom = { sum: 0, largest: 0 };
          return this.start(room);
        });
      return this.next;
    }
    return this.start({ sum: roomBytes, largest: largestBytes });
  }

  private start(room: Room): Promise<EvictionReport> {
    const p = this.pass(room).finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
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

  /**
   * Capacity now, from the config and the volume's filesystem: `capacity`, lowered to `used + free - reserve`. Files
   * evicted in the last {@link EVICTED_GRACE_MS} that are still open somewhere use space that the filesystem does not
   * show as free yet; they are counted as free (at most the growth of what the filesystem holds besides the cache since
   * they were evicted), so that eviction does not go on and on for space that is already on its way back.
   */
  async capacity(usedBytes: number): Promise<{ configured: number; effective: number }> {
    const cfg = this.deps.config();
    const fs = await this.deps.volume.filesystem();
    const other = fs.totalBytes - fs.freeBytes - usedBytes;
    const effective = effectiveCapacity({
      configuredBytes: cfg.capacity,
      usedBytes,
      fsTotalBytes: fs.totalBytes,
      fsFreeBytes: fs.freeBytes + this.comingBack(other),
      reserveFraction: cfg.volume.reserve,
    });
    return { configured: cfg.capacity, effective };
  }

  /** Evicted bytes not yet shown as free: at most what was evicted recently, and at most how much the non-cache use grew since. */
  private comingBack(otherNow: number): number {
    const now = performance.now();
    while (this.freeing.length > 0 && now - (this.freeing[0] as Freeing).atMs > EVICTED_GRACE_MS) this.freeing.shift();
    if (this.freeing.length === 0) return 0;
    const bytes = this.freeing.reduce((s, f) => s + f.bytes, 0);
    const base = Math.min(...this.freeing.map((f) => f.otherBefore));
    return Math.max(0, Math.min(bytes, otherNow - base));
  }

  private async pass(room: Room): Promise<EvictionReport> {
    const { index, volume } = this.deps;
    let evictedChunks = 0;
    let evictedBytes = 0;
    let totals = await index.totals();
    const cap = await this.capacity(totals.usedBytes);
    const roomBytes = Math.min(room.sum, Math.max(room.largest, Math.floor(cap.effective / 4)));
    const target = Math.max(0, cap.effective - roomBytes);
    while (!this.isPaused && totals.usedBytes > target) {
      // What the filesystem holds besides the cache before this batch: the base of its space coming back.
      const fs = await volume.filesystem();
      const otherBefore = fs.totalBytes - fs.freeBytes - totals.usedBytes;
      const victims = await index.evictTo(target, 256);
      if (victims.length === 0) break;
      // Unlink, never truncate: a reader that has the file open still reads it whole.
      await Promise.all(
        victims.map(async (v) => {
          const parsed = parseChunkKey(v.key);
          if (parsed) await volume.removeChunk(parsed.store, parsed.digest);
        }),
      );
      const bytes = victims.reduce((s, v) => s + v.size, 0);
      this.freeing.push({ bytes, atMs: performance.now(), otherBefore });
      // Whoever holds an evicted file open closes it now (or when its read ends), so that its space comes back.
      this.deps.evicted?.(victims.map((v) => v.key));
      evictedChunks += victims.length;
      evictedBytes += bytes;
      evictions.inc(victims.length);
      evictedBytesTotal.inc(bytes);
      totals = await index.totals();
    }
    if (evictedChunks > 0) log.info('evicted', { chunks: evictedChunks, bytes: evictedBytes, usedBytes: totals.usedBytes, capacity: cap.effective, roomBytes });
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
