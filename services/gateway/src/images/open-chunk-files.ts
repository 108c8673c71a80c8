import { close as closeCb, closeSync, fstatSync, readSync, type Stats } from 'node:fs';
import { SingleFlight } from '@larder/flight';
import { blobKind, type BlobKind } from '@larder/formats';
import { chunkKey } from '@larder/volume';
import type { OpenedChunk } from '../chunk-store.js';

/** What OpenChunkFiles needs from the ChunkStore: opening (fetching on a miss) and reporting reuse. */
export interface ChunkOpener {
  open(store: string, digest: string): Promise<OpenedChunk>;
  /** An open chunk was used again: refresh its recency (no hit counted). */
  recordUse(key: string): void;
}

/** An open chunk file. Use `fd` only between `acquire` and `release`. */
export interface OpenChunkFile {
  readonly key: string;
  readonly fd: number;
  /** File size in bytes. */
  readonly size: number;
  /** The DataBlob variant its first 8 bytes name (undefined for other content, e.g. a casync chunk). */
  readonly blob: BlobKind | undefined;
}

interface Entry extends OpenChunkFile {
  refs: number;
  /** Used since the last idle sweep. */
  used: boolean;
  /** Left the table (evicted, or the table closed): close the fd when the last reference goes. */
  dropped: boolean;
  /** The fd is closed (its number may belong to another file by now). */
  fdClosed: boolean;
  /** Size and mtime when opened (and verified, by the ChunkStore): a write to the file since changes them. */
  stamp: string;
}

/** Limits of {@link OpenChunkFiles}. */
export interface OpenChunkFilesOptions {
  /** Files kept open; more only while that many are in use at once. Default 128. */
  maxOpen?: number;
  /** Opens started by `prefetch` that may run at once (each may be a fetch from S3). Default 32. */
  maxPrefetching?: number;
  /** A file unused for between this and twice this long is closed. Default 10 s; 0 disables the sweep. */
  idleMs?: number;
}

/**
 * Recently used chunk files kept open, least recently used closed first. A reader takes a reference for
 * the duration of a read, so an fd is never closed (and its number reused for another file) under a read
 * in progress. An evicted chunk's file may be unlinked while it is open here: the open fd still reads the
 * same content-addressed bytes; `evicted` (the cache-index's eviction event) closes such files at once, or when
 * the read in progress releases them, so that their space is given back.
 */
export class OpenChunkFiles {
  private readonly entries = new Map<string, Entry>(); // insertion order = recency (re-inserted on use)
  private readonly opening = new SingleFlight<Entry>();
  private readonly maxOpen: number;
  private readonly maxPrefetching: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private prefetching = 0;
  private closed = false;

  constructor(
    private readonly chunks: ChunkOpener,
    opts: OpenChunkFilesOptions = {},
  ) {
    this.maxOpen = opts.maxOpen ?? 128;
    this.maxPrefetching = opts.maxPrefetching ?? 32;
    const idleMs = opts.idleMs ?? 10_000;
    if (idleMs > 0) {
      this.timer = setInterval(() => this.sweep(), idleMs);
      this.timer.unref();
    }
  }

  /** Files in the table (open, referenced or not). */
  get openCount(): number {
    return this.entries.size;
  }

  /** Opens started by `prefetch` still under way. */
  get prefetchingCount(): number {
    return this.prefetching;
  }

  /** Take a reference to a chunk's open file, opening it (fetching it on a miss) when needed; `release` it after use. */
  async acquire(store: string, digest: string): Promise<OpenChunkFile> {
    const key = chunkKey(store, digest);
    const open = this.entries.get(key);
    if (open && this.unchanged(open)) {
      this.use(open);
      this.chunks.recordUse(key);
      return open;
    }
    for (let attempt = 1; ; attempt++) {
      const entry = await this.opened(store, digest, key);
      if (!entry.fdClosed) {
        this.use(entry);
        return entry;
      }
      // Closed between its open and now (a prefetch's trim while every other file was in use, or close()):
      // open it again; an open never trims its own new entry, so this happens at most once.
      if (attempt >= 3) throw new Error(`chunk ${key}: its file was closed before it could be read, ${attempt} times`);
    }
  }

  /** Give back a reference from `acquire`. */
  release(file: OpenChunkFile): void {
    const e = file as Entry;
    e.refs--;
    if (e.refs > 0) return;
    if (e.dropped) closeUnused(e);
    else this.trim();
  }

  /**
   * Make sure a chunk is on the volume and open, without holding a reference (readahead): the open file,
   * the open under way, or undefined when `maxPrefetching` opens are under way already.
   */
  prefetch(store: string, digest: string): OpenChunkFile | Promise<OpenChunkFile> | undefined {
    const key = chunkKey(store, digest);
    const open = this.entries.get(key);
    if (open) return open;
    const pending = this.opening.get(key);
    if (pending) return pending;
    if (this.closed || this.prefetching >= this.maxPrefetching) return undefined;
    this.prefetching++;
    const p: Promise<Entry> = this.opened(store, digest, key);
    p.then(
      (e) => {
        this.prefetching--;
        if (e.dropped)
          closeUnused(e); // the table was closed meanwhile (a waiting acquire then opens again)
        else this.trim();
      },
      () => this.prefetching--, // a failed prefetch is retried, and reported, by the read that needs the chunk
    );
    return p;
  }

  /** Drop a chunk's open file from the table (it was quarantined): the next `acquire` opens the chunk again. */
  forget(key: string): void {
    this.evicted([key]);
  }

  /**
   * The cache-index evicted these chunks and unlinked their files: close the ones open here now (those in use when
   * their last reference is released), so that their space comes back. A later acquire opens (fetches) them again.
   */
  evicted(keys: Iterable<string>): number {
    let n = 0;
    for (const key of keys) {
      const e = this.entries.get(key);
      if (!e) continue;
      this.drop(e);
      n++;
    }
    return n;
  }

  /** Close every file not in use and stop the sweep; files in use are closed on release. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const e of this.entries.values()) this.drop(e);
  }

  /**
   * Whether an open file is as it was when opened (one `fstat`, about a microsecond). A file written to since (bit
   * rot by a write, a stray tool) is dropped, so that it is opened, and verified, again. Its ctime is not compared: an
   * evicted file's unlink changes it, and the open file still reads the same bytes.
   */
  private unchanged(e: Entry): boolean {
    let stamp: string | undefined;
    try {
      stamp = stampOf(fstatSync(e.fd));
    } catch {
      // unreadable metadata: open it again
    }
    if (stamp === e.stamp) return true;
    this.drop(e);
    return false;
  }

  private use(e: Entry): void {
    e.refs++;
    e.used = true;
    if (e.dropped) return;
    this.entries.delete(e.key);
    this.entries.set(e.key, e);
  }

  /** The table's entry for a chunk, opening the file once however many callers wait for it. */
  private opened(store: string, digest: string, key: string): Promise<Entry> {
    const open = this.entries.get(key);
    if (open) return Promise.resolve(open);
    return this.opening.run(key, () => this.openEntry(store, digest, key));
  }

  private async openEntry(store: string, digest: string, key: string): Promise<Entry> {
    const { fd } = await this.chunks.open(store, digest);
    let entry: Entry;
    try {
      // Synchronous: for a file in the page cache these are far cheaper than thread-pool round trips.
      const st = fstatSync(fd);
      const { size } = st;
      const head = Buffer.allocUnsafe(8);
      const n = size >= 8 ? readSync(fd, head, 0, 8, 0) : 0;
      entry = { key, fd, size, blob: n === 8 ? blobKind(head) : undefined, refs: 0, used: true, dropped: false, fdClosed: false, stamp: stampOf(st) };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    // After close() only the callers waiting for this open use it; the last release closes it. Not trimmed
    // here: the callers waiting for this open have not taken their references yet (release trims).
    if (this.closed) entry.dropped = true;
    else this.entries.set(key, entry);
    return entry;
  }

  /** Close least recently used files without references until at most `maxOpen` remain. */
  private trim(): void {
    if (this.entries.size <= this.maxOpen) return;
    for (const e of this.entries.values()) {
      if (this.entries.size <= this.maxOpen) break;
      if (e.refs === 0) this.drop(e);
    }
  }

  /** Close files unused since the previous sweep. */
  private sweep(): void {
    for (const e of this.entries.values()) {
      if (!e.used && e.refs === 0) this.drop(e);
      else e.used = false;
    }
  }

  private drop(e: Entry): void {
    this.entries.delete(e.key);
    e.dropped = true;
    closeUnused(e);
  }
}

function stampOf(st: Stats): string {
  return `${st.size}:${st.mtimeMs}`;
}

/** Close a dropped entry's fd once nobody uses it; exactly once. */
function closeUnused(e: Entry): void {
  if (!e.dropped || e.refs > 0 || e.fdClosed) return;
  e.fdClosed = true;
  // Asynchronous: closing the last link to an evicted file frees its blocks, which may take a while.
  closeCb(e.fd, () => {});
}
