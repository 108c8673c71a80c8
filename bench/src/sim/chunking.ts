import { Prng } from './prng.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** How a byte address space is cut into chunks: PBS-style fixed 4 MiB, or casync-style content-defined ~64 KiB. */
export type ChunkingKind = 'fixed4m' | 'cdc64k';

export const CHUNKING_LABEL: Record<ChunkingKind, string> = { fixed4m: '4 MiB fixed', cdc64k: '~64 KiB CDC' };

const FIXED = 4 * MiB;
/** casync's defaults around a 64 KiB average: min = avg / 4, max = avg * 4. */
const CDC_MIN = 16 * KiB;
const CDC_MAX = 256 * KiB;

/**
 * Chunk boundaries of one content lineage (a base image or a traced disk). Content-defined chunking is modelled, not
 * run: sizes are min + an exponential tail, capped at max (the shape a rolling-hash chunker gives), drawn from a
 * PRNG seeded by the lineage, so the same lineage always gets the same boundaries.
 */
export class Boundaries {
  /** Chunk start offsets, plus the end of the last chunk generated so far. */
  private starts: Float64Array = new Float64Array(1024);
  private count = 1;
  private readonly rng: Prng;

  constructor(
    readonly kind: ChunkingKind,
    seed: number,
  ) {
    this.rng = new Prng(seed * 7919 + 17);
  }

  /** Index of the chunk holding byte `offset`. */
  chunkAt(offset: number): number {
    if (this.kind === 'fixed4m') return Math.floor(offset / FIXED);
    this.extendTo(offset);
    let lo = 0;
    let hi = this.count - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** [start, end) of chunk `index`. */
  range(index: number): [number, number] {
    if (this.kind === 'fixed4m') return [index * FIXED, (index + 1) * FIXED];
    while (this.count <= index + 1) this.grow();
    return [this.starts[index] as number, this.starts[index + 1] as number];
  }

  private extendTo(offset: number): void {
    while ((this.starts[this.count - 1] as number) <= offset) this.grow();
  }

  private grow(): void {
    if (this.count === this.starts.length) {
      const bigger = new Float64Array(this.starts.length * 2);
      bigger.set(this.starts);
      this.starts = bigger;
    }
    const size = Math.min(CDC_MAX, CDC_MIN + Math.round(this.rng.exp(64 * KiB - CDC_MIN)));
    this.starts[this.count] = (this.starts[this.count - 1] as number) + size;
    this.count++;
  }
}

/** Length of one private modification of a derived image (a changed file block, a log written on first boot). */
export const DIRTY_EXTENT = 64 * KiB;

/**
 * An image as a byte address space: the content of its base lineage, except for private extents. A chunk that
 * overlaps a private extent is the image's own; every other chunk is the base's, shared by every image of that base
 * (deduplication). With 4 MiB chunks one 64 KiB change makes a whole 4 MiB chunk private; with CDC only ~64 KiB.
 */
export class ImageSpace {
  constructor(
    readonly id: number,
    readonly base: Boundaries,
    readonly baseId: number,
    readonly sizeBytes: number,
    /** Sorted start offsets of the private extents, each DIRTY_EXTENT long. */
    readonly dirty: Float64Array = new Float64Array(0),
  ) {}

  /** Numeric key of chunk `index`: the base's chunk, or this image's own one. */
  key(index: number): number {
    const [start, end] = this.base.range(index);
    const owner = this.overlapsDirty(start, end) ? 1_000_000 + this.id : this.baseId;
    return owner * 2 ** 24 + index;
  }

  /** Size of chunk `index` (the last one ends at the image's end). */
  size(index: number): number {
    const [start, end] = this.base.range(index);
    return Math.min(end, this.sizeBytes) - start;
  }

  private overlapsDirty(start: number, end: number): boolean {
    // First extent that ends after `start`; it overlaps if it begins before `end`.
    let lo = 0;
    let hi = this.dirty.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.dirty[mid] as number) + DIRTY_EXTENT <= start) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.dirty.length && (this.dirty[lo] as number) < end;
  }
}

/** `count` private extents at random offsets of an image of `sizeBytes` (sorted), optionally inside given ranges. */
export function dirtyExtents(rng: Prng, sizeBytes: number, count: number, within?: readonly [number, number][]): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    if (within && within.length > 0) {
      const [s, e] = within[rng.int(0, within.length)] as [number, number];
      out[i] = s + rng.int(0, Math.max(1, e - s - DIRTY_EXTENT));
    } else {
      out[i] = rng.int(0, Math.max(1, sizeBytes - DIRTY_EXTENT));
    }
  }
  return out.sort();
}
