/**
 * Buffers a chunk file is read into to be decoded, kept for the next decode. A fresh multi-MiB `allocUnsafe` per
 * decode costs page faults and garbage (external memory that is given back only at the next GC); a raw chunk's
 * lifetime is clear: from the read to the end of its (synchronous) decode. At most `maxFree` buffers, of
 * `maxFreeBytes` in all, wait for reuse; a buffer is reused for a size between half its length and its length.
 */
export class ScratchBuffers {
  private readonly free: Buffer[] = [];
  private freeBytes = 0;
  /** Buffers handed out again (for tests and diagnostics). */
  reused = 0;

  constructor(
    private readonly maxFreeBytes = 16 * 2 ** 20,
    private readonly maxFree = 32,
  ) {}

  /** A buffer of at least `size` bytes (contents arbitrary); use its first `size` bytes, and `give` it back. */
  take(size: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i] as Buffer;
      if (b.length >= size && b.length <= 2 * size) {
        this.free.splice(i, 1);
        this.freeBytes -= b.length;
        this.reused++;
        return b;
      }
    }
    // Its own ArrayBuffer, rounded up to 64 KiB so that chunks of similar sizes share buffers.
    return Buffer.allocUnsafeSlow(Math.ceil(Math.max(size, 1) / 65536) * 65536);
  }

  /** Give back a buffer from `take` that nothing refers to any more (the oldest free ones make room). */
  give(buf: Buffer): void {
    if (buf.length > this.maxFreeBytes) return;
    this.free.push(buf);
    this.freeBytes += buf.length;
    while (this.free.length > this.maxFree || this.freeBytes > this.maxFreeBytes) this.freeBytes -= (this.free.shift() as Buffer).length;
  }
}
