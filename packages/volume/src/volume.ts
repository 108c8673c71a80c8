import { randomBytes } from 'node:crypto';
import { closeSync, constants, fdatasync, mkdirSync, openSync, renameSync, rmSync, statSync, write, type Dirent } from 'node:fs';
import { promisify } from 'node:util';
import { mkdir, readdir, rm, stat, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { chunkKey, parseChunkKey } from './chunk-key.js';

const TEMP_PREFIX = '.tmp-';

/**
 * Create a temp file for writing. Its shard directory usually exists, so try first and make the directory only
 * on ENOENT: one call per write instead of a recursive mkdir.
 */
function createTemp(temp: string, dir: string): number {
  try {
    return openSync(temp, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { recursive: true });
  return openSync(temp, 'wx', 0o644);
}
const fsDatasync = promisify(fdatasync);
const fsWrite = (fd: number, buf: Uint8Array, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => write(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/**
 * The chunks on this node: lookup, open, write and remove of chunk files. The local volume that holds chunk bodies: `<root>/<namespace>/chunks/<store>/<2 hex>/<digest>`. 256 shard
 * directories per store (as git's objects/): creating a directory costs this machine's file system about half a
 * millisecond of CPU, and with S3's 65,536 four-hex shards nearly every one of the first tens of thousands of
 * small chunks would create one.
 */
export class Volume {
  readonly dir: string;

  constructor(
    root: string,
    namespace: string,
    private readonly opts: { fsync?: boolean } = {},
  ) {
    this.dir = path.join(root, namespace, 'chunks');
  }

  /** Path of a chunk's file; store and digest must already be validated. */
  chunkPath(store: string, digest: string): string {
    return path.join(this.dir, store, digest.slice(0, 2), digest);
  }

  /**
   * Open a chunk's file for reading: its descriptor (the caller closes it), or undefined when the volume does
   * not hold the chunk. Synchronous: for a file in the page cache one `open` is far cheaper than a thread-pool
   * round trip, and every chunk read on this node starts here.
   */
  openChunkSync(store: string, digest: string): number | undefined {
    try {
      return openSync(this.chunkPath(store, digest), constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Size in bytes of a cached chunk's file, or undefined when the volume does not hold it. A synchronous
   * `stat`: metadata of a local file system costs microseconds, far less than a thread-pool round trip.
   */
  async chunkSize(store: string, digest: string): Promise<number | undefined> {
    const st = statSync(this.chunkPath(store, digest), { throwIfNoEntry: false });
    return st?.size;
  }

  /** Whether the volume holds a chunk. */
  async hasChunk(store: string, digest: string): Promise<boolean> {
    try {
      await stat(this.chunkPath(store, digest));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Write a chunk atomically: a temp file in the same directory, synced, then renamed; no reader sees a partial
   * file. This runs for every fetched chunk: the metadata steps (create, close, rename) are synchronous, which
   * on a local file system costs microseconds, far less than a thread-pool round trip each; the data write and
   * `fdatasync`, which may wait for the disk, go to the thread pool.
   */
  async writeChunk(store: string, digest: string, bytes: Uint8Array): Promise<void> {
    const final = this.chunkPath(store, digest);
    const dir = path.dirname(final);
    const temp = path.join(dir, `${TEMP_PREFIX}${digest}.${process.pid}.${randomBytes(4).toString('hex')}`);
    const fd = createTemp(temp, dir);
    try {
      for (let at = 0; at < bytes.byteLength;) at += await fsWrite(fd, bytes, at, bytes.byteLength - at, at);
      if (this.opts.fsync !== false) await fsDatasync(fd);
      closeSync(fd);
      renameSync(temp, final);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
      rmSync(temp, { force: true });
      throw err;
    }
  }

  /** Delete a chunk's file (unlink: a reader that has it open still reads it whole). True when it existed. */
  async removeChunk(store: string, digest: string): Promise<boolean> {
    try {
      await unlink(this.chunkPath(store, digest));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Delete a chunk's file if the path still names the file `inode` (from the open descriptor of a bad copy), so that a
   * fresh copy written since is kept; any file at the path without `inode`. True when a file was removed.
   */
  async removeChunkIfSame(store: string, digest: string, inode?: { dev: number; ino: number }): Promise<boolean> {
    const st = statSync(this.chunkPath(store, digest), { throwIfNoEntry: false });
    if (!st || (inode && (st.dev !== inode.dev || st.ino !== inode.ino))) return false;
    return this.removeChunk(store, digest);
  }

  /**
   * Every chunk file on the volume with its size (temp files excluded); with `times`, also when it was last used as
   * far as the file system knows: the later of its atime (kept by relatime) and mtime.
   */
  listChunks(): AsyncIterable<{ key: string; size: number }>;
  listChunks(opts: { times: true }): AsyncIterable<{ key: string; size: number; lastUsedMs: number }>;
  async *listChunks(opts: { times?: boolean } = {}): AsyncIterable<{ key: string; size: number; lastUsedMs?: number }> {
    for (const store of await dirents(this.dir)) {
      if (!store.isDirectory()) continue;
      for (const shard of await dirents(path.join(this.dir, store.name))) {
        if (!shard.isDirectory()) continue;
        const shardDir = path.join(this.dir, store.name, shard.name);
        for (const f of await dirents(shardDir)) {
          const key = chunkKey(store.name, f.name);
          if (!f.isFile() || !parseChunkKey(key)) continue;
          const st = await stat(path.join(shardDir, f.name)).catch(() => undefined);
          if (st) yield opts.times ? { key, size: st.size, lastUsedMs: Math.floor(Math.max(st.atimeMs, st.mtimeMs)) } : { key, size: st.size };
        }
      }
    }
  }

  /**
   * Remove temp files older than `olderThanMs` (left by a writer that died mid-write); returns how many. With
   * `liveWriterMs`, a temp file whose writer (the pid in its name, `.tmp-<digest>.<pid>.<rand>`) is a live process
   * on this host is kept until it is `liveWriterMs` old: a slow write is never swept from under its writer.
   */
  async sweepTempFiles(olderThanMs: number, liveWriterMs?: number): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const store of await dirents(this.dir)) {
      for (const shard of await dirents(path.join(this.dir, store.name))) {
        const shardDir = path.join(this.dir, store.name, shard.name);
        for (const f of await dirents(shardDir)) {
          if (!f.name.startsWith(TEMP_PREFIX)) continue;
          const p = path.join(shardDir, f.name);
          const st = await stat(p).catch(() => undefined);
          if (!st || now - st.mtimeMs <= olderThanMs) continue;
          if (liveWriterMs !== undefined && now - st.mtimeMs <= liveWriterMs && isLivePid(tempWriterPid(f.name))) continue;
          if (
            await unlink(p).then(
              () => true,
              () => false,
            )
          )
            removed++;
        }
      }
    }
    return removed;
  }

  /** Size and free space of the filesystem that holds the volume. */
  async filesystem(): Promise<{ totalBytes: number; freeBytes: number }> {
    await mkdir(this.dir, { recursive: true });
    const s = await statfs(this.dir);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  }

  /** Delete the whole namespace folder (tests, reset). */
  async destroy(): Promise<void> {
    await rm(path.dirname(this.dir), { recursive: true, force: true });
  }
}

/** The writer's pid in a temp file's name `.tmp-<digest>.<pid>.<rand>`, if there is one. */
function tempWriterPid(name: string): number | undefined {
  const m = /^\.tmp-[0-9a-f]+\.(\d+)\.[0-9a-f]+$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Whether a process with this pid runs on this host (signal 0; EPERM means it exists but is not ours). */
function isLivePid(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function dirents(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
