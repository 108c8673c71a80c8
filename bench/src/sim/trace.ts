import type { ChunkingKind, ImageSpace } from './chunking.js';

/** A replayable sequence of chunk references. */
export interface Trace {
  /** Workload name (`boot-storm`, `msr-…`, …). */
  workload: string;
  chunking: ChunkingKind;
  /** What the workload is, for the report. */
  description: string;
  /** Chunk ids in reference order. */
  refs: Uint32Array;
  /**
   * 1 where the reference came from a whole-image scan (a restore or a verify walking an index), which the index
   * can know from the reader; 0 for client reads and for every reference of a public trace (no such hint there).
   */
  scan: Uint8Array;
  /** Size in bytes of each chunk id. */
  sizes: Float64Array;
  /** Bytes of all distinct chunks referenced: the working set the cache sizes are a share of. */
  uniqueBytes: number;
}

/**
 * Turns byte-range reads of images into chunk references. A read stream that references the same chunk again
 * right away (sequential reads inside one chunk) counts once: the gateway keeps the chunk file open and the touch
 * batcher sends a key once per flush, so the index sees one use, and no second GET is possible.
 */
export class TraceBuilder {
  private refs = new Uint32Array(1 << 16);
  private scans = new Uint8Array(1 << 16);
  private length = 0;
  private readonly ids = new Map<number, number>();
  private sizes: number[] = [];
  private readonly lastOfStream = new Map<number, number>();

  /** Reference the chunks that bytes [offset, offset + length) of `image` lie in, as read by `stream` (a scan or not). */
  read(stream: number, image: ImageSpace, offset: number, length: number, scan = false): void {
    const end = Math.min(offset + Math.max(1, length), image.sizeBytes);
    if (offset >= end) return;
    const first = image.base.chunkAt(offset);
    const last = image.base.chunkAt(end - 1);
    for (let j = first; j <= last; j++) this.ref(stream, image.key(j), image.size(j), scan);
  }

  /** Reference one chunk directly (scans that walk a chunk list, not byte ranges). */
  ref(stream: number, key: number, size: number, scan = false): void {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sizes.length;
      this.ids.set(key, id);
      this.sizes.push(size);
    }
    if (this.lastOfStream.get(stream) === id) return;
    this.lastOfStream.set(stream, id);
    if (this.length === this.refs.length) {
      const bigger = new Uint32Array(this.refs.length * 2);
      bigger.set(this.refs);
      this.refs = bigger;
      const biggerScans = new Uint8Array(this.scans.length * 2);
      biggerScans.set(this.scans);
      this.scans = biggerScans;
    }
    this.scans[this.length] = scan ? 1 : 0;
    this.refs[this.length++] = id;
  }

  /** References so far. */
  get count(): number {
    return this.length;
  }

  build(workload: string, chunking: ChunkingKind, description: string): Trace {
    const sizes = Float64Array.from(this.sizes);
    return { workload, chunking, description, refs: this.refs.slice(0, this.length), scan: this.scans.slice(0, this.length), sizes, uniqueBytes: sizes.reduce((s, v) => s + v, 0) };
  }
}
