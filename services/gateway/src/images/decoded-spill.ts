import { close as closeCb, closeSync, mkdirSync, openSync, statfsSync, unlinkSync, write as writeCb } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

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
  readonly fd: number;
  readonly offset: number;
  readonly length: number;
  readonly segment: Segment;
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
 */
export class DecodedSpill {
  private readonly extents = new Map<string, SpillExtent>();
  private readonly writing = new Set<string>();
  private readonly segments: Segment[] = []; // oldest first; the last one is appended to
  private bytes = 0;
  private dirMade = false;
  /** Writes that failed (the chunk is then decoded from its file on every read, as without the spill). */
  failedWrites = 0;

  constructor(
    private readonly dir: string,
    private readonly budget: () => number,
    private readonly segmentBytes = 64 * 2 ** 20,
  ) {}

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

  /** Keep a copy of `data`, the decoded bytes of chunk `key` (written in the thread pool; `onHeld` once it is held). */
  put(key: string, data: Buffer, onHeld?: () => void): void {
    const budget = this.budget();
    const seg = budget > 0 && !this.extents.has(key) && !this.writing.has(key) ? this.segmentFor(data.length, budget) : undefined;
    if (!seg) return;
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
        if (err || done + n < data.length) this.failedWrites++;
        else if (!seg.dropped) {
          this.extents.set(key, { fd: seg.fd, offset, length: data.length, segment: seg });
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
      this.failedWrites++;
      return undefined;
    }
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
