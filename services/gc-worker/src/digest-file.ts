import { closeSync, openSync, readSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Bytes of one digest (sha256 and sha512-256 alike). */
export const DIGEST_BYTES = 32;
/** Digests held in memory before they are sorted and written as a run: 32 MiB (1 Mi digests). */
export const DEFAULT_RUN_BYTES = 32 * 1024 * 1024;
/** Digests per page of the sorted file's in-memory page table (one 4 KiB pread per membership test). */
const PAGE_DIGESTS = 128;
const READ_BLOCK = 1024 * 1024;

/** Compare two digests held in buffers at the given offsets (byte order = lowercase hex order). */
function cmpAt(a: Buffer, ai: number, b: Buffer, bi: number): number {
  return a.compare(b, bi, bi + DIGEST_BYTES, ai, ai + DIGEST_BYTES);
}

/**
 * Collects digests on disk with bounded memory (external merge sort): `add` appends to a run buffer of `runBytes`;
 * a full buffer is sorted, deduplicated and written as a run file; `finish` merges the runs into one sorted,
 * deduplicated file of raw 32-byte digests. Memory: about 2.3 × `runBytes` while a run is sorted (the buffer, its
 * sorted copy and a 4-byte slot and 4-byte key per digest), plus a 1 MiB read buffer per run while merging.
 */
export class DigestFileWriter {
  private buf: Buffer;
  private used = 0;
  private readonly runs: string[] = [];
  /** Digests added, duplicates included. */
  added = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly runBytes: number = DEFAULT_RUN_BYTES,
  ) {
    this.runBytes = Math.max(DIGEST_BYTES, runBytes - (runBytes % DIGEST_BYTES));
    this.buf = Buffer.allocUnsafe(Math.min(this.runBytes, 1024 * 1024));
  }

  /** Append one 32-byte digest; returns a promise only when a full run is being written (await it before the next add). */
  add(digest: Uint8Array): Promise<void> | undefined {
    if (digest.byteLength !== DIGEST_BYTES) throw new Error(`a digest has ${DIGEST_BYTES} bytes, got ${digest.byteLength}`);
    if (this.used === this.buf.length) {
      if (this.buf.length < this.runBytes) {
        // Grow up to runBytes: small datastores never allocate the whole run buffer.
        const bigger = Buffer.allocUnsafe(Math.min(this.runBytes, this.buf.length * 2));
        this.buf.copy(bigger, 0, 0, this.used);
        this.buf = bigger;
      } else {
        return this.flushRun().then(() => this.append(digest));
      }
    }
    this.append(digest);
    return undefined;
  }

  private append(digest: Uint8Array): void {
    this.buf.set(digest, this.used);
    this.used += DIGEST_BYTES;
    this.added++;
  }

  private async flushRun(): Promise<void> {
    if (this.used === 0) return;
    const sorted = sortUnique(this.buf.subarray(0, this.used));
    const file = path.join(this.dir, `${this.name}.run${this.runs.length}`);
    await writeWhole(file, sorted);
    this.runs.push(file);
    this.used = 0;
  }

  /** Merge everything added into `<dir>/<name>` (sorted, deduplicated); the run files are removed. Returns the path and the distinct count. */
  async finish(): Promise<{ file: string; count: number }> {
    const file = path.join(this.dir, this.name);
    if (this.runs.length === 0) {
      // One run: sorted in memory, no merge.
      const sorted = sortUnique(this.buf.subarray(0, this.used));
      await writeWhole(file, sorted);
      this.buf = Buffer.alloc(0);
      return { file, count: sorted.length / DIGEST_BYTES };
    }
    await this.flushRun();
    this.buf = Buffer.alloc(0);
    const count = await mergeRuns(this.runs, file);
    await Promise.all(this.runs.map((r) => rm(r, { force: true })));
    return { file, count };
  }

  /** Remove the run files (an abandoned collection). */
  async discard(): Promise<void> {
    this.buf = Buffer.alloc(0);
    await Promise.all(this.runs.map((r) => rm(r, { force: true })));
  }
}

/** Sort the digests of `buf` and drop duplicates; returns a new buffer. */
export function sortUnique(buf: Buffer): Buffer {
  const n = buf.length / DIGEST_BYTES;
  // Sort slots by their first 4 bytes (random for digests: nearly always decisive), the rest only on ties.
  const heads = new Uint32Array(n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    heads[i] = buf.readUInt32BE(i * DIGEST_BYTES);
    order[i] = i;
  }
  order.sort((a, b) => {
    const ha = heads[a] as number;
    const hb = heads[b] as number;
    return ha !== hb ? (ha < hb ? -1 : 1) : cmpAt(buf, a * DIGEST_BYTES, buf, b * DIGEST_BYTES);
  });
  const out = Buffer.allocUnsafe(buf.length);
  let w = 0;
  for (let k = 0; k < n; k++) {
    const at = (order[k] as number) * DIGEST_BYTES;
    if (w > 0 && cmpAt(out, w - DIGEST_BYTES, buf, at) === 0) continue;
    buf.copy(out, w, at, at + DIGEST_BYTES);
    w += DIGEST_BYTES;
  }
  return out.subarray(0, w);
}

async function writeWhole(file: string, bytes: Buffer): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (let at = 0; at < bytes.length;) at += (await fh.write(bytes, at, bytes.length - at)).bytesWritten;
  } finally {
    await fh.close();
  }
}

/** Reads a sorted digest file front to back in 1 MiB blocks (synchronous reads of a local file: far below a millisecond each). */
export class DigestReader {
  private fd: number | undefined;
  private block = Buffer.alloc(0);
  private at = 0;
  private pos = 0;
  private eof = false;

  constructor(private readonly file: string) {
    this.fd = openSync(file, 'r');
  }

  static async open(file: string): Promise<DigestReader> {
    return new DigestReader(file);
  }

  /** The next digest (a view valid until the following call), or undefined at the end. */
  next(): Buffer | undefined {
    if (this.at + DIGEST_BYTES > this.block.length) {
      if (this.eof || this.fd === undefined) return undefined;
      const block = this.block.length === READ_BLOCK ? this.block : Buffer.allocUnsafe(READ_BLOCK);
      const bytesRead = readSync(this.fd, block, 0, READ_BLOCK, this.pos);
      this.pos += bytesRead;
      if (bytesRead < READ_BLOCK) this.eof = true;
      if (bytesRead % DIGEST_BYTES !== 0 && this.eof) throw new Error(`${this.file}: truncated digest file`);
      this.block = block.subarray(0, bytesRead - (bytesRead % DIGEST_BYTES));
      this.at = 0;
      if (this.block.length === 0) return undefined;
    }
    const d = this.block.subarray(this.at, this.at + DIGEST_BYTES);
    this.at += DIGEST_BYTES;
    return d;
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Let the event loop run (timers, NATS, Redis) during long loops over digests. */
export function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** k-way merge of sorted runs into `out`, dropping duplicates; returns the distinct count. */
async function mergeRuns(runs: string[], out: string): Promise<number> {
  const readers = runs.map((r) => new DigestReader(r));
  const fh = await open(out, 'w');
  const outBuf = Buffer.allocUnsafe(READ_BLOCK);
  let w = 0;
  let count = 0;
  let dups = 0;
  const last = Buffer.alloc(DIGEST_BYTES);
  let haveLast = false;
  try {
    // A binary min-heap of readers keyed by their current digest (copied: reader views move on).
    const heads: { d: Buffer; r: DigestReader }[] = [];
    for (const r of readers) {
      const d = r.next();
      if (d) heads.push({ d: Buffer.from(d), r });
    }
    const less = (i: number, j: number) => (heads[i] as { d: Buffer }).d.compare((heads[j] as { d: Buffer }).d) < 0;
    const swap = (i: number, j: number) => {
      const t = heads[i] as { d: Buffer; r: DigestReader };
      heads[i] = heads[j] as { d: Buffer; r: DigestReader };
      heads[j] = t;
    };
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heads.length && less(l, m)) m = l;
        if (r < heads.length && less(r, m)) m = r;
        if (m === i) return;
        swap(i, m);
        i = m;
      }
    };
    for (let i = (heads.length >> 1) - 1; i >= 0; i--) down(i);
    while (heads.length > 0) {
      const top = heads[0] as { d: Buffer; r: DigestReader };
      if (!haveLast || top.d.compare(last) !== 0) {
        top.d.copy(last);
        haveLast = true;
        top.d.copy(outBuf, w);
        w += DIGEST_BYTES;
        count++;
        if (w === outBuf.length) {
          await writeAll(fh, outBuf, w);
          w = 0;
        }
      } else if (++dups % 65536 === 0) {
        // Long stretches of duplicates (the zero chunk of a sparse disk) write nothing: let the event loop run.
        await yieldNow();
      }
      const next = top.r.next();
      if (next) next.copy(top.d);
      else {
        heads[0] = heads[heads.length - 1] as { d: Buffer; r: DigestReader };
        heads.pop();
      }
      if (heads.length > 0) down(0);
    }
    await writeAll(fh, outBuf, w);
  } finally {
    await fh.close();
    await Promise.all(readers.map((r) => r.close()));
  }
  return count;
}

async function writeAll(fh: FileHandle, buf: Buffer, n: number): Promise<void> {
  for (let at = 0; at < n;) at += (await fh.write(buf, at, n - at)).bytesWritten;
}

/**
 * Membership in a sorted digest file: an in-memory table of the first digest of every 128 (32 bytes per 4 KiB of
 * file: 2.5 MB for 10 million digests), then one 4 KiB pread and a binary search within it per test.
 */
export class DigestSet {
  private constructor(
    private readonly fd: number,
    private readonly firsts: Buffer,
    readonly count: number,
  ) {}

  static async open(file: string): Promise<DigestSet> {
    const reader = new DigestReader(file);
    const firsts: Buffer[] = [];
    let count = 0;
    try {
      for (let d = reader.next(); d; d = reader.next()) {
        if (count % PAGE_DIGESTS === 0) firsts.push(Buffer.from(d));
        if (++count % (1 << 20) === 0) await yieldNow();
      }
    } finally {
      await reader.close();
    }
    return new DigestSet(openSync(file, 'r'), Buffer.concat(firsts), count);
  }

  private readonly page = Buffer.allocUnsafe(PAGE_DIGESTS * DIGEST_BYTES);

  /** Whether the file holds `digest` (32 bytes). */
  has(digest: Buffer): boolean {
    const pages = this.firsts.length / DIGEST_BYTES;
    // Last page whose first digest <= digest.
    let lo = 0;
    let hi = pages - 1;
    if (pages === 0 || cmpAt(this.firsts, 0, digest, 0) > 0) return false;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cmpAt(this.firsts, mid * DIGEST_BYTES, digest, 0) <= 0) lo = mid;
      else hi = mid - 1;
    }
    const n = Math.min(PAGE_DIGESTS, this.count - lo * PAGE_DIGESTS);
    const bytes = n * DIGEST_BYTES;
    let got = 0;
    while (got < bytes) {
      const r = readSync(this.fd, this.page, got, bytes - got, lo * PAGE_DIGESTS * DIGEST_BYTES + got);
      if (r === 0) throw new Error('digest file shorter than when it was opened');
      got += r;
    }
    let a = 0;
    let b = n - 1;
    while (a <= b) {
      const m = (a + b) >> 1;
      const c = cmpAt(this.page, m * DIGEST_BYTES, digest, 0);
      if (c === 0) return true;
      if (c < 0) a = m + 1;
      else b = m - 1;
    }
    return false;
  }

  close(): void {
    closeSync(this.fd);
  }
}
