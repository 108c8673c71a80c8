/** Buffers smaller than this come from Node's shared slab (cheap); pooling them gains nothing. */
const MIN_POOLED = 16 * 1024;
/** Larger buffers are rare (one big read) and not worth keeping. */
const MAX_POOLED = 8 * 1024 * 1024;
/** Pooled sizes are rounded up to this, so one client's mix of lengths shares a few size classes. */
const GRANULE = 4096;

/**
 * Reply buffers kept for reuse. A fresh multi-hundred-KiB `Buffer.allocUnsafe` costs page faults (and GC
 * work for its external memory) on every read; a reply buffer's lifetime is clear (filled by the export,
 * handed to the socket, free once the socket has taken it), so the server takes one per read and gives
 * it back after the write. Free buffers are bounded by `maxFreeBytes`; the size classes given back most
 * recently win when it is full.
 */
export class ReplyBufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  /** Buffers handed out from the free lists (for tests and diagnostics). */
  reused = 0;

  constructor(private readonly maxFreeBytes = 32 * 1024 * 1024) {}

  /** Bytes currently held in the free lists. */
  get heldBytes(): number {
    return this.freeBytes;
  }

  /** A buffer of at least `size` bytes (its contents are arbitrary); use `subarray(0, size)` of it. */
  take(size: number): Buffer {
    const cls = sizeClass(size);
    if (cls === undefined) return Buffer.allocUnsafe(size);
    const list = this.free.get(cls);
    const buf = list?.pop();
    if (buf) {
      this.freeBytes -= cls;
      this.reused++;
      return buf;
    }
    // Its own ArrayBuffer (not a slab slice), so the whole allocation is what comes back.
    return Buffer.allocUnsafeSlow(cls);
  }

  /**
   * Give back a buffer from `take` once nothing reads or writes it any more. Buffers of other origins
   * (a size that is not a class) are ignored.
   */
  give(buf: Buffer): void {
    const cls = buf.length;
    if (sizeClass(cls) !== cls || buf.byteOffset !== 0 || buf.buffer.byteLength !== cls) return;
    // Make room by dropping buffers of other sizes first: the sizes in use now are what matters.
    for (const [other, list] of this.free) {
      if (this.freeBytes + cls <= this.maxFreeBytes) break;
      if (other === cls) continue;
      while (list.length > 0 && this.freeBytes + cls > this.maxFreeBytes) {
        list.pop();
        this.freeBytes -= other;
      }
      if (list.length === 0) this.free.delete(other);
    }
    if (this.freeBytes + cls > this.maxFreeBytes) return;
    let list = this.free.get(cls);
    if (!list) {
      list = [];
      this.free.set(cls, list);
    }
    list.push(buf);
    this.freeBytes += cls;
  }
}

/** The pooled size for `size` bytes, or undefined when such buffers are not pooled. */
function sizeClass(size: number): number | undefined {
  if (size < MIN_POOLED || size > MAX_POOLED) return undefined;
  return Math.ceil(size / GRANULE) * GRANULE;
}
