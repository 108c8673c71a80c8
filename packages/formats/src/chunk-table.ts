import { FormatError } from './errors.js';
import type { ImageIndex, IndexFormat } from './types.js';

/** Where the digests sit in an index file: every `stride` bytes, `digestOffset` into each record. */
export interface DigestTable {
  bytes: Buffer;
  stride: number;
  digestOffset: number;
}

/** Shared digest access and bounds checks for the three index formats. */
export abstract class ChunkTable implements ImageIndex {
  abstract readonly format: IndexFormat;
  abstract readonly size: number;
  readonly chunkCount: number;
  readonly #table: DigestTable;

  protected constructor(table: DigestTable, chunkCount: number) {
    this.#table = table;
    this.chunkCount = chunkCount;
  }

  abstract chunkStart(i: number): number;
  abstract chunkEnd(i: number): number;
  abstract findChunk(offset: number): number;

  /** Chunk id of chunk i as 64 lowercase hex characters. */
  chunkDigest(i: number): string {
    const at = this.digestAt(i);
    return this.#table.bytes.toString('hex', at, at + 32);
  }

  /** Chunk id of chunk i as a 32-byte view into the index buffer. */
  chunkDigestBytes(i: number): Buffer {
    const at = this.digestAt(i);
    return this.#table.bytes.subarray(at, at + 32);
  }

  private digestAt(i: number): number {
    this.checkIndex(i);
    return i * this.#table.stride + this.#table.digestOffset;
  }

  /** Throws 'index-range' unless i is an integer chunk number in [0, chunkCount). */
  protected checkIndex(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.chunkCount) {
      throw new FormatError('index-range', `${this.format}: chunk ${i} is out of range [0, ${this.chunkCount})`);
    }
  }
}

/** An index whose chunk boundaries are an increasing list of end offsets (didx, caibx). */
export abstract class VariableChunkTable extends ChunkTable {
  readonly size: number;
  readonly #ends: Float64Array;

  protected constructor(table: DigestTable, ends: Float64Array) {
    super(table, ends.length);
    this.#ends = ends;
    this.size = ends.length === 0 ? 0 : ends[ends.length - 1]!;
  }

  /** Byte offset where chunk i starts (the previous chunk's end). */
  chunkStart(i: number): number {
    this.checkIndex(i);
    return i === 0 ? 0 : this.#ends[i - 1]!;
  }

  /** Byte offset where chunk i ends (exclusive). */
  chunkEnd(i: number): number {
    this.checkIndex(i);
    return this.#ends[i]!;
  }

  /** Binary search for the first chunk whose end lies past offset; -1 outside [0, size). */
  findChunk(offset: number): number {
    if (!(offset >= 0 && offset < this.size)) return -1;
    const ends = this.#ends;
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! > offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
