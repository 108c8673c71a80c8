import { close as closeCb, closeSync, mkdirSync, openSync, statfsSync, unlinkSync, write as writeCb } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { createLogger } from '@larder/telemetry';
import { preadFully } from './pread-fully.js';

const log = createLogger('gateway');

/** The spill's unit of verification: a CRC32 per block of an extent (the last one may be shorter). */
export const SPILL_BLOCK = 64 * 1024;

/** The CRC32 of each `SPILL_BLOCK` of `data`. */
function blockCrcs(data: Buffer): Uint32Array {
  const crcs = new Uint32Array(Math.ceil(data.length / SPILL_BLOCK));
  for (let b = 0; b < crcs.length; b++) crcs[b] = crc32(data.subarray(b * SPILL_BLOCK, (b + 1) * SPILL_BLOCK));
  return crcs;
}

/** Options of {@link DecodedSpill}. */
export interface SpillOptions {
  /** Bytes per segment file (at most a quarter of the budget). */
  segmentBytes?: number;
  /** Called once per extent found corrupt (a Prometheus counter). */
  onCorrupt?: () => void;
  /** Called on each failed write (a Prometheus counter). */
  onFailedWrite?: () => void;
}

interface Segment {
  fd: number;
  /** Bytes handed out (written or being written). */
  size: number;
  refs: number;
  dropped: boolean;
  closed: boolean;
  keys: string[];
}

/** Where a decoded chunk's bytes are in the spill: read `length` bytes at `offset` of `fd` between `acquire` and `release`. */
export interface SpillExtent {
  readonly key: string;
  readonly fd: number;
  readonly offset: number;
  readonly length: number;
  readonly segment: Segment;
  /** The CRC32 of each `SPILL_BLOCK` of the bytes written. */
  readonly crcs: Uint32Array;
  /** Found corrupt once (and dropped). */
  corrupt: boolean;
}

/**
 * Decoded chunks kept on the volume, so that a warm read of a compressed chunk is a positional read like an
 * uncompressed blob's, not a decode (a casync image's chunks are all compressed). Written only from data the image
 * reader has just decoded from a verified chunk file; appended to segment files (`segmentBytes` each) that are
 * unlinked as soon as they are created, so they vanish with the process (nothing stale after a crash, and nothing a
 * later process could mistake for its own). Bounded by `budget()` bytes: the oldest segment goes first, closed when
 * the last read in progress releases it. The bytes come out of the volume's file system, beside the chunk cache, which
 * comes first: a segment is added only while it is at most an eighth of the free space, and when it is not, the
 * oldest segment is dropped instead.
 *
 * Integrity: a CRC32 per 64 KiB block is computed from the bytes in memory when they are written, and the spill's
 * scrubber (SpillScrubber) re-reads every extent against them in the background at a bounded rate. Reads are not
 * checked: a CRC over every byte served would cost about as much CPU as the rest of a warm read (measured: README).
 * An extent that rotted on the volume is dropped (counted in `corrupt`, logged once): the next read decodes the chunk
 * from its verified file again, and the copy is written anew.
 */
export class DecodedSpill {
  private readonly extents = new Map<string, SpillExtent>();
  private readonly writing = new Set<string>();
  private readonly segments: Segment[] = []; // oldest first; the last one is appended to
  private bytes = 0;
  private dirMade = false;
  private readonly segmentBytes: number;
  /** Writes that failed (the chunk is then decoded from its file on every read, as without the spill). */
  failedWrites = 0;
  /** Extents whose bytes on the volume did not match their CRCs when scrubbed (each dropped, and decoded again). */
  corrupt = 0;

  constructor(
    private readonly dir: string,
    private readonly budget: () => number,
    private readonly opts: SpillOptions = {},
  ) {
    this.segmentBytes = opts.segmentBytes ?? 64 * 2 ** 20;
  }

  /** Bytes of the segment files. */
  get usedBytes(): number {
    return this.bytes;
  }

  /** Chunks held. */
  get count(): number {
    return this.extents.size;
  }

  /** Whether the spill holds a chunk. */
  has(key: string): boolean {
    return this.extents.has(key);
  }

  /** A reference to a decoded chunk's extent, or undefined when the spill does not hold it; `release` it after the read. */
  acquire(key: string): SpillExtent | undefined {
    const e = this.extents.get(key);
    if (!e) return undefined;
    e.segment.refs++;
    return e;
  }

  release(e: SpillExtent): void {
    e.segment.refs--;
    closeIfUnused(e.segment);
  }

  /** The extents held now, in the order their writes completed (for the scrubber). */
  held(): SpillExtent[] {
    return [...this.extents.values()];
  }

  /**
   * Read an acquired extent whole into `buf` (at least its length) and check every block against its CRC. False when
   * one does not match: the extent is dropped (counted once, logged), and the next read decodes the chunk again.
   */
  async verify(e: SpillExtent, buf: Buffer): Promise<boolean> {
    const bytes = buf.subarray(0, e.length);
    await preadFully(e.fd, bytes, 0, e.length, e.offset, 'decoded chunk copy on the volume');
    for (let b = 0; b < e.crcs.length; b++) {
      if (crc32(bytes.subarray(b * SPILL_BLOCK, (b + 1) * SPILL_BLOCK)) !== e.crcs[b]) {
        this.corrupted(e, b);
        return false;
      }
    }
    return true;
  }

  /** Keep a copy of `data`, the decoded bytes of chunk `key` (written in the thread pool; `onHeld` once it is held). */
  put(key: string, data: Buffer, onHeld?: () => void): void {
    const budget = this.budget();
    const seg = budget > 0 && !this.extents.has(key) && !this.writing.has(key) ? this.segmentFor(data.length, budget) : undefined;
    if (!seg) return;
    // From the bytes in memory, just decoded from a verified file: what the copy on the volume must read back as.
    const crcs = blockCrcs(data);
    const offset = seg.size;
    seg.size += data.length;
    this.bytes += data.length;
    this.writing.add(key);
    seg.refs++; // the write's own reference: the segment is not closed under it
    const step = (done: number): void => {
      writeCb(seg.fd, data, done, data.length - done, offset + done, (err, n) => {
        if (!err && done + n < data.length && n > 0) return step(done + n);
        this.writing.delete(key);
        seg.refs--;
        if (err || done + n < data.length) this.failedWrite();
        else if (!seg.dropped) {
          this.extents.set(key, { key, fd: seg.fd, offset, length: data.length, segment: seg, crcs, corrupt: false });
          seg.keys.push(key);
          onHeld?.();
        }
        closeIfUnused(seg);
      });
    };
    step(0);
    this.trim(budget);
  }

  /** Forget everything; segments in use are closed when their reads end. */
  close(): void {
    for (const seg of this.segments.splice(0)) this.drop(seg);
    this.bytes = 0;
  }

  /** The segment to append `length` bytes to (a new one when the last is full); undefined when none can be made. */
  private segmentFor(length: number, budget: number): Segment | undefined {
    const last = this.segments.at(-1);
    const cap = Math.max(length, Math.min(this.segmentBytes, Math.floor(budget / 4)));
    if (last && last.size + length <= cap) return last;
    try {
      if (!this.dirMade) mkdirSync(this.dir, { recursive: true });
      this.dirMade = true;
      // The chunk cache comes first: a new segment only while it takes at most an eighth of the free space; else
      // the oldest segment gives its space back.
      const st = statfsSync(this.dir);
      if (cap > (st.bavail * st.bsize) / 8) {
        const oldest = this.segments.shift();
        if (oldest) this.drop(oldest);
        return undefined;
      }
      const file = path.join(this.dir, `spill-${process.pid}-${randomBytes(6).toString('hex')}`);
      const fd = openSync(file, 'w+', 0o600);
      try {
        unlinkSync(file);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      const seg: Segment = { fd, size: 0, refs: 0, dropped: false, closed: false, keys: [] };
      this.segments.push(seg);
      return seg;
    } catch {
      this.failedWrite();
      return undefined;
    }
  }

  private failedWrite(): void {
    this.failedWrites++;
    this.opts.onFailedWrite?.();
  }

  /** An extent that did not read back as written: forgotten (its space comes back with its segment's), counted once. */
  private corrupted(e: SpillExtent, block: number): void {
    if (this.extents.get(e.key) === e) this.extents.delete(e.key);
    if (e.corrupt) return;
    e.corrupt = true;
    this.corrupt++;
    this.opts.onCorrupt?.();
    log.warn('decoded chunk copy on the volume is corrupt: dropped, the chunk is decoded from its file again', {
      chunk: e.key,
      block,
      offset: e.offset + block * SPILL_BLOCK,
    });
  }

  /** Drop the oldest segments (never the one being appended to) until within budget. */
  private trim(budget: number): void {
    while (this.bytes > budget && this.segments.length > 1) this.drop(this.segments.shift() as Segment);
  }

  private drop(seg: Segment): void {
    seg.dropped = true;
    this.bytes -= seg.size;
    for (const k of seg.keys) if (this.extents.get(k)?.segment === seg) this.extents.delete(k);
    seg.keys = [];
    closeIfUnused(seg);
  }
}

function closeIfUnused(seg: Segment): void {
  if (!seg.dropped || seg.refs > 0 || seg.closed) return;
  seg.closed = true;
  closeCb(seg.fd, () => {});
}
