/** Smallest and largest pooled length; bodies outside get plain allocations of their own length. */
const MIN_CLASS = 16 * 2 ** 10;
const MAX_CLASS = 16 * 2 ** 20;
/** Size classes per doubling: a class is at most 1/STEPS (3.1 %) larger than any length it serves. */
const STEPS = 32;

/**
 * Reusable memory for S3 response bodies. A fetched chunk's bytes live only until the chunk is verified and
 * written, so their memory can be handed to the next fetch instead of being freed: fresh multi-megabyte
 * allocations cost page faults on every first touch and drive the garbage collector (together a tenth of a
 * fetcher's CPU on 4 MiB chunks). Capacities are rounded up to one of {@link STEPS} classes per power of two, so a
 * body never holds more than 3.1 % above its length and `fetcher.inflightBytes` stays true (an uncompressed 4 MiB
 * + 12 byte pbs blob holds 4 MiB + 128 KiB). At most `retainBytes` are kept idle; past that the longest idle
 * buffers are dropped first, so the sizes in use now are the ones kept.
 */
export class BodyPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Every idle buffer, oldest first (insertion order). */
  private readonly idleOrder = new Set<ArrayBuffer>();
  private idleBytes = 0;

  constructor(private readonly retainBytes: number) {}

  /** A buffer of exactly `length` bytes (contents undefined), reused when one is idle. */
  take(length: number): Buffer {
    const capacity = classOf(length);
    if (capacity === undefined) return Buffer.allocUnsafeSlow(length);
    const ab = this.free.get(capacity)?.pop();
    if (!ab) return Buffer.from(Buffer.allocUnsafeSlow(capacity).buffer, 0, length);
    this.idleOrder.delete(ab);
    this.idleBytes -= capacity;
    return Buffer.from(ab, 0, length);
  }

  /** Return a buffer from {@link take}; the caller must not touch it (or any view of it) afterwards. */
  give(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || buf.byteOffset !== 0 || classOf(ab.byteLength) !== ab.byteLength) return;
    if (ab.byteLength > this.retainBytes || this.idleOrder.has(ab)) return;
    for (const old of this.idleOrder) {
      if (this.idleBytes + ab.byteLength <= this.retainBytes) break;
      // The oldest idle buffer is also the first of its class's list (lists grow at the end).
      this.free.get(old.byteLength)?.shift();
      this.idleOrder.delete(old);
      this.idleBytes -= old.byteLength;
    }
    let list = this.free.get(ab.byteLength);
    if (!list) this.free.set(ab.byteLength, (list = []));
    list.push(ab);
    this.idleOrder.add(ab);
    this.idleBytes += ab.byteLength;
  }

  /** Bytes held idle for reuse. */
  get idle(): number {
    return this.idleBytes;
  }
}

/**
 * The pooled capacity for `length` bytes (`length` rounded up to a multiple of 1/{@link STEPS} of the power of two
 * at or below it), or undefined outside 16 KiB–16 MiB.
 */
export function classOf(length: number): number | undefined {
  if (length < MIN_CLASS || length > MAX_CLASS) return undefined;
  const step = 2 ** Math.floor(Math.log2(length)) / STEPS;
  return Math.ceil(length / step) * step;
}
