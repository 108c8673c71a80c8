/** Smallest and largest pooled capacity; bodies outside get plain allocations. */
const MIN_CLASS = 64 * 2 ** 10;
const MAX_CLASS = 16 * 2 ** 20;

/**
 * Reusable memory for S3 response bodies. A fetched chunk's bytes live only until the chunk is verified and
 * written, so their memory can be handed to the next fetch instead of being freed: fresh multi-megabyte
 * allocations cost page faults on every first touch and drive the garbage collector (together a tenth of a
 * fetcher's CPU on 4 MiB chunks). Capacities are powers of two; at most `retainBytes` are kept idle.
 */
export class BodyPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private idleBytes = 0;

  constructor(private readonly retainBytes: number) {}

  /** A buffer of exactly `length` bytes (contents undefined), reused when one is idle. */
  take(length: number): Buffer {
    const capacity = classOf(length);
    if (capacity === undefined) return Buffer.allocUnsafeSlow(length);
    const ab = this.free.get(capacity)?.pop();
    if (!ab) return Buffer.from(Buffer.allocUnsafeSlow(capacity).buffer, 0, length);
    this.idleBytes -= capacity;
    return Buffer.from(ab, 0, length);
  }

  /** Return a buffer from {@link take}; the caller must not touch it (or any view of it) afterwards. */
  give(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || buf.byteOffset !== 0 || classOf(ab.byteLength) !== ab.byteLength) return;
    if (this.idleBytes + ab.byteLength > this.retainBytes) return;
    let list = this.free.get(ab.byteLength);
    if (!list) this.free.set(ab.byteLength, (list = []));
    list.push(ab);
    this.idleBytes += ab.byteLength;
  }

  /** Bytes held idle for reuse. */
  get idle(): number {
    return this.idleBytes;
  }
}

/** The pooled capacity for `length` bytes (the next power of two, at least 64 KiB), or undefined past 16 MiB. */
function classOf(length: number): number | undefined {
  if (length > MAX_CLASS) return undefined;
  return Math.max(MIN_CLASS, 2 ** Math.ceil(Math.log2(Math.max(1, length))));
}
