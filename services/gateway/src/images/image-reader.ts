import { closeSync, fstatSync } from 'node:fs';
import { BLOB_HEADER_SIZE, decodeCasyncChunk, decodeDataBlob, isFormatError, rememberZeroDigests, zeroChunkDigest, type CaibxIndex } from '@larder/formats';
import type { ChunkStore } from '../chunk-store.js';
import { StatusError } from '@larder/errors';
import type { OpenChunkFile, OpenChunkFiles } from './open-chunk-files.js';
import type { DecodedChunkCache } from './decoded-cache.js';
import type { ImageInfo } from './image-catalog.js';
import { ScratchBuffers } from './scratch-buffers.js';
import { preadFully } from './pread-fully.js';
import type { DecodedSpill, SpillExtent } from './decoded-spill.js';
import { chunkKey } from '@larder/volume';

const PLAIN_HEADER = BLOB_HEADER_SIZE.plain;

const zeroBuffers = new Map<number, Buffer>();
/** Chunk files read to be decoded, shared by every image. */
const scratchBuffers = new ScratchBuffers();

/** A shared read-only buffer of zeros (memoized per length, bounded). */
function zeroBuffer(length: number): Buffer {
  let z = zeroBuffers.get(length);
  if (!z) {
    z = Buffer.alloc(length);
    if (zeroBuffers.size > 64) zeroBuffers.clear();
    zeroBuffers.set(length, z);
  }
  return z;
}

/** Per-client read state: where the last read ended and how far ahead to prefetch. */
export interface ReadCursor {
  lastEnd: number;
  window: number;
  /** The last chunk this cursor's readahead has already asked for (each chunk is asked for once). */
  ahead?: number;
}

/** A new cursor: no readahead until reads turn out to be sequential. */
export function newCursor(): ReadCursor {
  return { lastEnd: -1, window: 0, ahead: -1 };
}

/** One chunk's part of a read, once at hand: a plain blob's open file, its decoded copy on the volume, decoded data, or (none) zeros. */
interface PieceSource {
  file?: OpenChunkFile;
  extent?: SpillExtent;
  data?: Buffer;
}

/** Whether a chunk file is an uncompressed, unencrypted DataBlob holding exactly `length` bytes of data. */
function isPlainBlob(file: OpenChunkFile, length: number): boolean {
  return file.blob === 'plain' && file.size === PLAIN_HEADER + length;
}

/**
 * Reads any byte range of an image: maps it to chunks and reads them (in parallel), and prefetches ahead of
 * sequential readers with a window that doubles up to `maxReadahead` while reads stay sequential and drops
 * to zero on a random read.
 *
 * A pbs chunk stored as an uncompressed DataBlob (what PBS writes when zstd does not shrink a chunk) is read
 * straight from its file, just the requested bytes, through a small table of open files; its readahead only
 * makes sure the file is on the volume. Compressed blobs and casync chunks are decoded whole into the shared
 * decoded-chunk cache, and their readahead decodes them ahead.
 */
export class ImageReader {
  private readonly alg;
  private readonly pbs: boolean;
  private zeroLength = -1;
  private zeroHex = '';
  private zerosRemembered = false;

  constructor(
    readonly image: ImageInfo,
    private readonly deps: {
      chunks: Pick<ChunkStore, 'open'> & Partial<Pick<ChunkStore, 'quarantine' | 'recordUse'>>;
      files: OpenChunkFiles;
      cache: DecodedChunkCache;
      /** Decoded copies of compressed chunks on the volume (absent: every read of one is served from memory or decoded). */
      spill?: DecodedSpill;
      maxReadahead: () => number;
    },
  ) {
    this.alg = image.index.format === 'caibx' ? (image.index as CaibxIndex).digestAlgorithm : image.ds.digest;
    this.pbs = image.ds.layout === 'pbs';
  }

  get size(): number {
    return this.image.size;
  }

  /** Read exactly `length` bytes at `offset` (clamped by the caller to the image). */
  async read(offset: number, length: number, cursor?: ReadCursor): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const [first, last] = this.locate(offset, length, cursor);
    if (first === last) {
      const from = offset - this.image.index.chunkStart(first);
      const src = await this.source(first);
      // Within one decoded (or zero) chunk: a view of it, no copy.
      if (!src.file && !src.extent) return (src.data ?? zeroBuffer(this.chunkLength(first))).subarray(from, from + length);
      const out = Buffer.allocUnsafe(length);
      await this.copyOut(src, from, length, out, 0);
      return out;
    }
    let out: Buffer | undefined;
    await this.fill(first, last, offset, length, () => (out ??= Buffer.allocUnsafe(length)));
    return out as Buffer;
  }

  /**
   * Read exactly `length` bytes at `offset` into the buffer `target()` gives, which is asked for only once
   * every chunk of the range is at hand (on the volume and open, or decoded): a read waiting for a fetch
   * holds no buffer. Settles, also on failure, only when nothing writes into the buffer any more (the NBD
   * server reuses it).
   */
  async readInto(offset: number, length: number, target: () => Buffer, cursor?: ReadCursor): Promise<void> {
    if (length === 0) return;
    const [first, last] = this.locate(offset, length, cursor);
    await this.fill(first, last, offset, length, target);
  }

  /**
   * Prefetch chunk `i`: make sure a plain pbs blob is on the volume and open, decode anything else into the
   * cache. False only when refused for lack of room (too many fetches under way, or the cache's budget).
   */
  prefetch(i: number): boolean {
    const { index, store } = this.image;
    if (i >= index.chunkCount) return true;
    const len = index.chunkEnd(i) - index.chunkStart(i);
    const digest = index.chunkDigest(i);
    if (digest === this.zeroDigest(len)) return true;
    if (!this.pbs) return this.decodeAhead(digest, len);
    const file = this.deps.files.prefetch(store, digest);
    if (file === undefined) return false;
    if (file instanceof Promise) {
      file.then(
        (f) => void (isPlainBlob(f, len) || this.decodeAhead(digest, len)),
        () => {}, // a failed prefetch is retried, and reported, by the read that needs the chunk
      );
    } else if (!isPlainBlob(file, len)) {
      return this.decodeAhead(digest, len);
    }
    return true;
  }

  /** Validate a range, run readahead, and give its first and last chunk. */
  private locate(offset: number, length: number, cursor: ReadCursor | undefined): [number, number] {
    const { index } = this.image;
    const first = index.findChunk(offset);
    const last = index.findChunk(offset + length - 1);
    if (first < 0 || last < 0) throw new StatusError(416, `range ${offset}+${length} is outside the image (${this.size} bytes)`);
    if (cursor) this.readahead(cursor, offset, offset + length, first, last);
    return [first, last];
  }

  /**
   * Fill the range into `target()`: first every chunk's source (fetches, opens and decoding in parallel),
   * then the buffer, then the copies; waits for every piece even after one failed.
   */
  private async fill(first: number, last: number, offset: number, length: number, target: () => Buffer): Promise<void> {
    const { index } = this.image;
    if (first === last) {
      const src = await this.source(first);
      return this.copyOut(src, offset - index.chunkStart(first), length, this.take(target, [src]), 0);
    }
    const settledSources = await Promise.allSettled(Array.from({ length: last - first + 1 }, (_, k) => this.source(first + k)));
    const sources: PieceSource[] = [];
    for (const r of settledSources) if (r.status === 'fulfilled') sources.push(r.value);
    const failed = settledSources.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.release(sources);
      throw failed.reason;
    }
    const out = this.take(target, sources);
    const copies: Promise<void>[] = [];
    for (const [k, src] of sources.entries()) {
      const i = first + k;
      const start = index.chunkStart(i);
      const from = Math.max(offset, start) - start;
      const to = Math.min(offset + length, index.chunkEnd(i)) - start;
      copies.push(this.copyOut(src, from, to - from, out, start + from - offset));
    }
    // Not Promise.all: a read still under way would write into the buffer after the caller has moved on.
    const settled = await Promise.allSettled(copies);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
  }

  /** Where chunk `i`'s bytes come from once at hand: zeros, a plain blob's open file (referenced), or decoded data. */
  private async source(i: number): Promise<PieceSource> {
    const { index, store } = this.image;
    const len = index.chunkEnd(i) - index.chunkStart(i);
    const digest = index.chunkDigest(i);
    if (digest === this.zeroDigest(len)) return {};
    const extent = this.deps.spill?.acquire(`${store}/${digest}`);
    if (extent) {
      this.deps.chunks.recordUse?.(chunkKey(store, digest)); // read: the chunk stays recent in the cache-index too
      return { extent };
    }
    if (this.pbs) {
      const { files } = this.deps;
      const file = await files.acquire(store, digest);
      if (isPlainBlob(file, len)) return { file };
      files.release(file);
    }
    return { data: await this.decoded(digest, len) };
  }

  /** The caller's buffer; should getting it fail, the pieces' file references are given back. */
  private take(target: () => Buffer, sources: PieceSource[]): Buffer {
    try {
      return target();
    } catch (err) {
      this.release(sources);
      throw err;
    }
  }

  private release(sources: PieceSource[]): void {
    for (const src of sources) {
      if (src.file) this.deps.files.release(src.file);
      if (src.extent) this.deps.spill?.release(src.extent);
    }
  }

  /** Bytes [from, from + n) of a piece into `target` at `at`; gives back the piece's file reference. */
  private async copyOut(src: PieceSource, from: number, n: number, target: Buffer, at: number): Promise<void> {
    if (src.file) {
      try {
        // Straight from the file, without a check per read: the file was verified (CRC and digest) when this
        // process first opened it, or by the chunk-fetcher that just wrote it, and OpenChunkFiles re-checks its
        // size and mtime on every acquire. Checking 4 MiB per read here would cost more than the read itself.
        await preadFully(src.file.fd, target, at, n, PLAIN_HEADER + from, `chunk file ${src.file.key}`);
      } finally {
        this.deps.files.release(src.file);
      }
    } else if (src.extent) {
      // Written by this process from bytes it decoded from a verified chunk file; re-checked against their CRCs in
      // the background, not per read (see DecodedSpill).
      try {
        await preadFully(src.extent.fd, target, at, n, src.extent.offset + from, 'decoded chunk copy on the volume');
      } finally {
        this.deps.spill?.release(src.extent);
      }
    } else if (src.data) {
      src.data.copy(target, at, from, from + n);
    } else {
      target.fill(0, at, at + n);
    }
  }

  /** A chunk decoded whole, through the shared cache. */
  private decoded(digest: string, len: number): Promise<Buffer> {
    return this.deps.cache.get(`${this.image.store}/${digest}`, len, () => this.load(digest, len));
  }

  /** Start decoding a chunk into the cache if the budget has room; true when it is there or on its way. */
  private decodeAhead(digest: string, len: number): boolean {
    const key = `${this.image.store}/${digest}`;
    if (this.deps.spill?.has(key)) return true;
    return this.deps.cache.has(key) || this.deps.cache.tryPrefetch(key, len, () => this.load(digest, len));
  }

  private chunkLength(i: number): number {
    return this.image.index.chunkEnd(i) - this.image.index.chunkStart(i);
  }

  private zeroDigest(len: number): string {
    if (len !== this.zeroLength) {
      if (!this.zerosRemembered) {
        // casync chunks have nearly as many lengths as chunks: their zero digests all at once, for the cost of the longest.
        this.zerosRemembered = true;
        const { index } = this.image;
        if (index.chunkCount > 1)
          rememberZeroDigests(
            this.alg,
            (function* () {
              for (let i = 0; i < index.chunkCount; i++) yield index.chunkEnd(i) - index.chunkStart(i);
            })(),
          );
      }
      this.zeroHex = zeroChunkDigest(this.alg, len);
      this.zeroLength = len;
    }
    return this.zeroHex;
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
    if (cursor.window === 0) {
      cursor.ahead = -1;
      return;
    }
    // Only chunks not asked for yet: a window of 256 small chunks is not walked again on every read.
    const stop = Math.min(lastChunk + cursor.window, this.image.index.chunkCount - 1);
    let i = Math.max(lastChunk + 1, (cursor.ahead ?? -1) + 1);
    for (; i <= stop; i++) if (!this.prefetch(i)) break;
    cursor.ahead = Math.max(cursor.ahead ?? -1, i - 1);
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

  /**
   * A whole chunk, decoded. Its file was verified when this process first opened it (ChunkStore), which hands over
   * the plain data it decoded then; later it is decoded again (a DataBlob's CRC checked). A file that fails to decode
   * although its metadata says it is unchanged (bit rot below the file system) is quarantined and fetched again, once.
   */
  private async load(digest: string, expected: number): Promise<Buffer> {
    const what = `chunk ${digest} of ${this.image.store}`;
    let plain: Buffer | undefined;
    for (let attempt = 1; plain === undefined; attempt++) plain = await this.loadOnce(digest, what, attempt === 1);
    if (plain.byteLength !== expected) {
      throw new StatusError(502, `${what} decodes to ${plain.byteLength} bytes but the index says ${expected}`);
    }
    // Once on the volume, its memory is given back: later reads are positional reads of the copy.
    const key = `${this.image.store}/${digest}`;
    this.deps.spill?.put(key, plain, () => this.deps.cache.delete(key));
    return plain;
  }

  /** Read and decode a chunk's file; undefined when it failed and was quarantined (`mayQuarantine`): read it again. */
  private async loadOnce(digest: string, what: string, mayQuarantine: boolean): Promise<Buffer | undefined> {
    const { store } = this.image;
    const decode = async (fd: number, size: number): Promise<Buffer | undefined> => {
      // One read of the whole file (readFile would read it in 512 KiB pieces and concatenate them), into a reused buffer.
      const scratch = scratchBuffers.take(size);
      let plain: Buffer | undefined;
      try {
        const raw = scratch.subarray(0, size);
        await preadFully(fd, raw, 0, size, 0, what);
        try {
          plain = this.pbs ? decodeDataBlob(raw) : decodeCasyncChunk(raw);
          return plain;
        } catch (err) {
          const quarantine = this.deps.chunks.quarantine?.bind(this.deps.chunks);
          if (!isFormatError(err) || !quarantine || !mayQuarantine)
            throw new StatusError(502, `${what} failed verification on the volume: ${(err as Error).message}`, { cause: err });
          await quarantine(store, digest, fd, err.message);
          return undefined;
        }
      } finally {
        // Not when the decoded data is a view of it (an uncompressed blob): that is kept (the decoded cache).
        if (plain?.buffer !== scratch.buffer) scratchBuffers.give(scratch);
      }
    };
    if (this.pbs) {
      const { files } = this.deps;
      const file = await files.acquire(store, digest);
      try {
        return await decode(file.fd, file.size);
      } finally {
        files.release(file);
      }
    }
    const opened = await this.deps.chunks.open(store, digest);
    try {
      return opened.data ?? (await decode(opened.fd, opened.size ?? fstatSync(opened.fd).size));
    } finally {
      closeSync(opened.fd);
    }
  }
}
