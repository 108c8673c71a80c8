import { closeSync, fstat as fstatCb, read as readCb } from 'node:fs';
import { promisify } from 'node:util';
import { decodeCasyncChunk, decodeDataBlob, type CaibxIndex } from '@larder/formats';
import type { ChunkSource } from '../chunk-source.js';
import { HttpError } from '../http-kit.js';
import type { DecodedChunkCache } from './decoded-cache.js';
import type { ImageInfo } from './image-catalog.js';
import { zeroBuffer, zeroDigest } from './zero-chunks.js';

const fstat = promisify(fstatCb);
const read = (fd: number, buf: Buffer, off: number, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => readCb(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

/** Per-client read state: where the last read ended and how far ahead to prefetch. */
export interface ReadCursor {
  lastEnd: number;
  window: number;
}

/** A new cursor: no readahead until reads turn out to be sequential. */
export function newCursor(): ReadCursor {
  return { lastEnd: -1, window: 0 };
}

/**
 * Reads any byte range of an image: maps it to chunks, loads them (in parallel) through the shared
 * decoded-chunk cache, and prefetches ahead of sequential readers with a window that doubles up to
 * `maxReadahead` while reads stay sequential and drops to zero on a random read.
 */
export class ImageReader {
  private readonly alg;

  constructor(
    readonly image: ImageInfo,
    private readonly deps: { chunks: ChunkSource; cache: DecodedChunkCache; maxReadahead: () => number },
  ) {
    this.alg = image.index.format === 'caibx' ? (image.index as CaibxIndex).digestAlgorithm : image.ds.digest;
  }

  get size(): number {
    return this.image.size;
  }

  /** Read exactly `length` bytes at `offset` (clamped by the caller to the image). */
  async read(offset: number, length: number, cursor?: ReadCursor): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const { index } = this.image;
    const first = index.findChunk(offset);
    const last = index.findChunk(offset + length - 1);
    if (first < 0 || last < 0) throw new HttpError(416, `range ${offset}+${length} is outside the image (${this.size} bytes)`);
    if (cursor) this.readahead(cursor, offset, offset + length, first, last);
    const pieces = await Promise.all(Array.from({ length: last - first + 1 }, (_, k) => this.chunk(first + k)));
    if (pieces.length === 1) {
      const start = offset - index.chunkStart(first);
      return (pieces[0] as Buffer).subarray(start, start + length);
    }
    const out = Buffer.allocUnsafe(length);
    let written = 0;
    for (let k = 0; k < pieces.length; k++) {
      const i = first + k;
      const piece = pieces[k] as Buffer;
      const from = Math.max(offset, index.chunkStart(i)) - index.chunkStart(i);
      const to = Math.min(offset + length, index.chunkEnd(i)) - index.chunkStart(i);
      written += piece.copy(out, written, from, to);
    }
    return out;
  }

  /** The decoded chunk `i`: zeros without a fetch when its digest is that of zeros, else through the cache. */
  chunk(i: number): Promise<Buffer> {
    const { index, store } = this.image;
    const len = index.chunkEnd(i) - index.chunkStart(i);
    const digest = index.chunkDigest(i);
    if (digest === zeroDigest(this.alg, len)) return Promise.resolve(zeroBuffer(len));
    return this.deps.cache.get(`${store}/${digest}`, len, () => this.load(digest, len));
  }

  /** Prefetch chunk `i` if the cache has room; false when skipped. */
  prefetch(i: number): boolean {
    const { index, store } = this.image;
    if (i >= index.chunkCount) return false;
    const len = index.chunkEnd(i) - index.chunkStart(i);
    const digest = index.chunkDigest(i);
    if (digest === zeroDigest(this.alg, len)) return false;
    return this.deps.cache.tryPrefetch(`${store}/${digest}`, len, () => this.load(digest, len));
  }

  private readahead(cursor: ReadCursor, start: number, end: number, firstChunk: number, lastChunk: number): void {
    // Sequential: this stream continues where it left off; or it moved only a little and the chunk before was
    // read recently by anyone (several connections of one copy, as nbdcopy makes, each see strided reads of one
    // sequential stream). A random reader jumps far between reads and gets no readahead.
    const { recent } = this.image;
    const distance = cursor.lastEnd < 0 ? Infinity : Math.abs(start - cursor.lastEnd);
    const sequential = distance <= 65536 || (distance <= 32 * 2 ** 20 && firstChunk > 0 && recent.has(firstChunk - 1));
    for (let i = firstChunk; i <= lastChunk; i++) recent.add(i);
    const max = this.maxWindow();
    cursor.window = sequential ? Math.min(max, Math.max(2, cursor.window * 2)) : 0;
    cursor.lastEnd = end;
    for (let i = lastChunk + 1; i <= lastChunk + cursor.window && i < this.image.index.chunkCount; i++) this.prefetch(i);
  }

  /**
   * The readahead limit in chunks: `images.readahead` for 4 MiB chunks, scaled up for smaller ones (casync's
   * ~64 KiB) so that the bytes in flight, not the request count, cover the link's delay; at most 256.
   */
  private maxWindow(): number {
    const { index } = this.image;
    const avg = index.chunkCount > 0 ? index.size / index.chunkCount : 4 * 2 ** 20;
    const scale = Math.max(1, Math.round((4 * 2 ** 20) / Math.max(1, avg)));
    return Math.min(256, this.deps.maxReadahead() * scale);
  }

  private async load(digest: string, expected: number): Promise<Buffer> {
    const { store, ds } = this.image;
    const opened = await this.deps.chunks.open(store, digest);
    let raw: Buffer;
    try {
      // One read of the whole file (readFile would read it in 512 KiB pieces and concatenate them).
      const { size } = await fstat(opened.fd);
      raw = Buffer.allocUnsafe(size);
      const bytesRead = await read(opened.fd, raw, 0, size, 0);
      if (bytesRead !== size) throw new HttpError(500, `chunk ${digest} of ${store}: short read from the volume (${bytesRead} of ${size} bytes)`);
    } finally {
      closeSync(opened.fd);
    }
    const plain = ds.layout === 'pbs' ? decodeDataBlob(raw) : decodeCasyncChunk(raw);
    if (plain.byteLength !== expected) {
      throw new HttpError(502, `chunk ${digest} of ${store} decodes to ${plain.byteLength} bytes but the index says ${expected}`);
    }
    return plain;
  }
}
