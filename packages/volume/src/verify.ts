import { fstatSync, read as readCb, type Stats } from 'node:fs';
import { MAX_BLOB_SIZE, decodeAndVerifyChunk, type ChunkLayout, type DigestAlgorithm } from '@larder/formats';
import { chunkKey } from './chunk-key.js';
import type { Volume } from './volume.js';

/**
 * The identity of a chunk file as the file system tells it: device, inode, size, mtime and ctime. A write to the
 * file changes its mtime and ctime, a replacement its inode: a proof that a file verified holds while this holds.
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** The identity of the file `st` describes (from `fstat`). */
export function fileIdentity(st: Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** Whether two identities name the same, unchanged file. */
export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.dev === b.dev;
}

/** How a chunk's file is checked: its datastore's layout and digest algorithm. */
export interface ChunkCheck {
  layout: ChunkLayout;
  digest?: DigestAlgorithm;
}

/** The outcome of {@link verifyChunkFile}: the plain data, or why the file is not the chunk its name says. */
export type ChunkFileVerdict = { ok: true; identity: FileIdentity; data: Buffer } | { ok: false; identity: FileIdentity | undefined; reason: string };

/**
 * Read a chunk file whole from an open descriptor and check it as the fetcher checks a body from S3 (DataBlob CRC,
 * decompression, digest of the plain data). A read error (EIO: a bad sector) fails it too. Never throws.
 */
export async function verifyChunkFile(fd: number, digest: string, check: ChunkCheck): Promise<ChunkFileVerdict> {
  let identity: FileIdentity | undefined;
  try {
    const st = fstatSync(fd);
    identity = fileIdentity(st);
    if (st.size > MAX_BLOB_SIZE + 64) return { ok: false, identity, reason: `chunk file of ${st.size} bytes: larger than any chunk object` };
    const raw = Buffer.allocUnsafe(st.size);
    await preadAll(fd, raw);
    return { ok: true, identity, data: decodeAndVerifyChunk(check.layout, digest, raw, check.digest) };
  } catch (err) {
    return { ok: false, identity, reason: err instanceof Error ? err.message : String(err) };
  }
}

/** Fill `buf` from the start of the open file `fd` (positional reads: the fd's offset is untouched). */
export function preadAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done === buf.length) return resolve();
      readCb(fd, buf, done, buf.length - done, done, (err, n) => {
        if (err) reject(err);
        else if (n === 0) reject(new Error(`short read: ${done} of ${buf.length} bytes`));
        else step(done + n);
      });
    };
    step(0);
  });
}

/** What quarantining needs from the index (the ChunkIndex of @larder/redis). */
export interface QuarantineIndex {
  remove(keys: string[]): Promise<number>;
  incrStats(deltas: Record<string, number>): Promise<void>;
}

/** What {@link quarantineChunk} did: whether it removed the file, and the file's path. */
export interface QuarantineResult {
  removed: boolean;
  path: string;
  /** Why the index could not be updated (Redis unavailable): the next reconcile mends it. */
  indexError?: string;
}

/**
 * Quarantine a chunk file that failed verification: unlink it (only if the path still names the same file: a
 * fresh copy written since is kept), remove it from the index and count `verifyFailures` and `quarantined` — so
 * the next read of the chunk is a miss and fetches it again. Every read path and the scrubber go through here.
 * `inode` is the bad file's (from its open descriptor); without it the file at the path is removed.
 */
export async function quarantineChunk(
  volume: Volume,
  index: QuarantineIndex,
  store: string,
  digest: string,
  inode: { dev: number; ino: number } | undefined,
): Promise<QuarantineResult> {
  const path = volume.chunkPath(store, digest);
  const removed = await volume.removeChunkIfSame(store, digest, inode);
  if (!removed) return { removed, path };
  try {
    await index.remove([chunkKey(store, digest)]);
    await index.incrStats({ verifyFailures: 1, quarantined: 1 });
    return { removed, path };
  } catch (err) {
    return { removed, path, indexError: err instanceof Error ? err.message : String(err) };
  }
}
