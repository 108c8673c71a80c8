import { closeSync, existsSync, fstatSync, statSync } from 'node:fs';
import type { FetchClient, FetchReply } from '@larder/bus';
import { resolveDatastore, type Config } from '@larder/config';
import { StatusError } from '@larder/errors';
import { SingleFlight } from '@larder/flight';
import { createLogger } from '@larder/telemetry';
import { chunkKey, fileIdentity, quarantineChunk, verifyChunkFile, type ChunkFileVerdict, type FileIdentity, type QuarantineIndex, type Volume } from '@larder/volume';
import { ChunkProofs } from './chunk-proofs.js';
import type { TouchBatcher } from './touch-batcher.js';

const log = createLogger('gateway');

/** A chunk fetched for this open was evicted before its file could be opened (503). */
export class ChunkEvictedError extends StatusError {
  constructor(message: string) {
    super(503, message);
    this.name = 'ChunkEvictedError';
  }
}

/** Client reads are `normal`; warming an image is `low` and waits behind them at the fetchers. */
export type Priority = 'normal' | 'low';

/** An open chunk file (a descriptor the caller closes) and whether it was already cached. */
export interface OpenedChunk {
  fd: number;
  hit: boolean;
  /** The chunk's plain data, when this open decoded the file to verify it (its first open in this process). */
  data?: Buffer;
  /** The file's size, when the open looked at it (saves the caller an `fstat`). */
  size?: number;
}

/** What the chunk store needs; with `verify`, every file it hands out is verified (see {@link ChunkStore}). */
export interface ChunkStoreDeps {
  volume: Volume;
  fetcher: FetchClient;
  touches: TouchBatcher;
  /** The config (each datastore's layout and digest) and the index (quarantine): verify chunk files before use. */
  verify?: { config: () => Config; index: QuarantineIndex };
}

/**
 * The gateway's chunk store: a chunk is opened from the volume; on a miss the chunk-fetchers bring it there
 * (one request per chunk in this process however many clients wait for it) and the file they wrote is opened.
 *
 * Every file it hands out matches its digest: a file is verified (CRC, decoding, digest) the first time this process
 * opens it, and the proof is kept by the file's identity (device, inode, size, mtime, ctime), so later opens of the
 * unchanged file cost one `fstat`. A file the chunk-fetchers have just written is proven by them (they verified the
 * body before writing it). A file that fails is quarantined (removed from volume and index, counted, logged) and the
 * chunk fetched again: the caller gets the right bytes. Bit rot that leaves the metadata unchanged is the scrubber's.
 */
export class ChunkStore {
  private readonly fetches = new SingleFlight<FetchReply>();
  /** Keys whose fetch in flight was started at `low` priority (readahead): a client that needs one asks again at normal priority. */
  private readonly lowFetches = new Set<string>();
  private readonly proofs = new ChunkProofs();
  /** Verifications under way, by chunk key and file identity: concurrent first opens of one file hash it once. */
  private readonly verifying = new SingleFlight<ChunkFileVerdict>();
  private readonly quarantineListeners: ((key: string) => void)[] = [];
  private readonly proofListeners: ((key: string, identity: FileIdentity) => void)[] = [];

  constructor(private readonly deps: ChunkStoreDeps) {}

  /** Open a chunk; store and digest must already be validated. Fails with a StatusError (the fetch's status). */
  async open(store: string, digest: string, priority: Priority = 'normal'): Promise<OpenedChunk> {
    const key = chunkKey(store, digest);
    const fd = this.openLocal(store, digest);
    if (fd !== undefined) {
      const checked = await this.check(store, digest, key, fd);
      if (checked) {
        this.deps.touches.hit(key, checked.size ?? fileSize(fd));
        return { fd, hit: true, ...checked };
      }
      // Corrupt, and quarantined: a miss.
    }
    this.deps.touches.miss();
    for (let attempt = 1; ; attempt++) {
      const reply = await this.fetch(store, digest, key, priority);
      const fetched = this.openLocal(store, digest);
      // Evicted between the fetch and this open: the cache is smaller than the chunks being read at once.
      if (fetched === undefined) throw new ChunkEvictedError(`chunk ${digest} of ${store} was evicted before it could be served; the cache is too small for the load`);
      if (reply.source !== 'volume' && this.deps.verify) {
        // Fetched and verified by a chunk-fetcher just now, before it wrote the file.
        const identity = fileIdentity(fstatSync(fetched));
        this.prove(key, identity);
        return { fd: fetched, hit: false, size: identity.size };
      }
      const checked = await this.check(store, digest, key, fetched);
      if (checked) return { fd: fetched, hit: false, ...checked };
      if (attempt >= 2) throw new StatusError(502, `chunk ${digest} of ${store} failed verification on the volume again after it was fetched again`);
    }
  }

  /**
   * Readahead: make sure a chunk is on the volume without serving it (no hit or miss counted). Undefined when
   * the volume holds it already; otherwise its fetch at `low` priority, through the same single flight as `open`
   * (a client that asks for the chunk meanwhile joins it, at normal priority).
   */
  prefetch(store: string, digest: string): Promise<FetchReply> | undefined {
    const path = this.deps.volume.chunkPath(store, digest);
    if (existsSync(path)) return undefined;
    const key = chunkKey(store, digest);
    return this.fetch(store, digest, key, 'low').then((reply) => {
      // Verified by a chunk-fetcher before it wrote the file, as in `open`: the client's open that follows need not hash it again.
      if (reply.source !== 'volume' && this.deps.verify) {
        try {
          this.prove(key, fileIdentity(statSync(path)));
        } catch {
          // Gone already (evicted): the client's open fetches it again.
        }
      }
      return reply;
    });
  }

  /**
   * Open a chunk as {@link open} does, but fetch it again, up to `attempts` fetches in all, when it was evicted
   * between its fetch and the open (a full volume making room for other fetches): what image reads use.
   */
  async openRefetching(store: string, digest: string, priority: Priority = 'normal', attempts = 3): Promise<OpenedChunk> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.open(store, digest, priority);
      } catch (err) {
        if (!(err instanceof ChunkEvictedError) || attempt >= attempts) throw err;
      }
    }
  }

  /**
   * Open a chunk only when this node holds it (verified as by {@link open}, counted as a hit); undefined otherwise,
   * without a fetch: what an S3 HEAD of a chunk asks.
   */
  async openIfCached(store: string, digest: string): Promise<OpenedChunk | undefined> {
    const key = chunkKey(store, digest);
    const fd = this.openLocal(store, digest);
    if (fd === undefined) return undefined;
    const checked = await this.check(store, digest, key, fd);
    if (!checked) return undefined;
    this.deps.touches.hit(key, checked.size ?? fileSize(fd));
    return { fd, hit: true, ...checked };
  }

  /** This process wrote the file `identity` of chunk `key` from a body it verified (an S3 PUT): its first open needs no hash. */
  vouch(key: string, identity: FileIdentity): void {
    if (this.deps.verify) this.prove(key, identity);
  }

  /** Call `fn` with every proof this store makes (a file verified here, or by a fetcher for it): the gateway's other workers take them. */
  onProof(fn: (key: string, identity: FileIdentity) => void): void {
    this.proofListeners.push(fn);
  }

  /** A proof another worker of this gateway made: its open of the same unchanged file needs no hash here either. */
  acceptProof(key: string, identity: FileIdentity): void {
    if (this.deps.verify) this.proofs.add(key, identity);
  }

  /** The chunk's file was removed (deleted from S3): drop its proof, and tell the quarantine listeners (open files are closed). */
  forget(key: string): void {
    this.proofs.delete(key);
    for (const fn of this.quarantineListeners) fn(key);
  }

  /** A chunk opened earlier was used again (an open file kept by the image reader): refresh its recency. */
  recordUse(key: string): void {
    this.deps.touches.touch(key);
  }

  /** Call `fn` with the key of every chunk this store quarantines (the table of open files drops it). */
  onQuarantine(fn: (key: string) => void): void {
    this.quarantineListeners.push(fn);
  }

  /**
   * Quarantine the chunk file open as `fd` (which the caller still closes): it failed verification (`reason`).
   * Removes it from volume and index (unless a fresh copy replaced it meanwhile), counts and logs it; the next
   * open of the chunk fetches it again.
   */
  async quarantine(store: string, digest: string, fd: number, reason: string): Promise<void> {
    const key = chunkKey(store, digest);
    this.proofs.delete(key);
    for (const fn of this.quarantineListeners) fn(key);
    const verify = this.deps.verify;
    if (!verify) return;
    let inode: { dev: number; ino: number } | undefined;
    try {
      inode = fstatSync(fd);
    } catch {
      // Closed already: remove whatever the path names.
    }
    const result = await quarantineChunk(this.deps.volume, verify.index, store, digest, inode);
    if (result.removed)
      log.error('chunk file failed verification: quarantined (removed from volume and index), fetching it again', {
        key,
        path: result.path,
        reason,
        indexError: result.indexError,
      });
  }

  /**
   * Whether the open file `fd` is chunk `key`: proven before, or verified now (then with its plain data). A file that
   * fails is quarantined and closed (undefined). Without `verify` every file passes.
   */
  private async check(store: string, digest: string, key: string, fd: number): Promise<{ data?: Buffer; size?: number } | undefined> {
    const verify = this.deps.verify;
    if (!verify) return {};
    let identity: FileIdentity;
    try {
      identity = fileIdentity(fstatSync(fd));
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    if (this.proofs.holds(key, identity)) return { size: identity.size };
    const ds = resolveDatastore(verify.config(), store);
    if (!ds) {
      closeQuietly(fd);
      throw new StatusError(404, `unknown datastore: ${store}`);
    }
    const check = { layout: ds.layout, digest: ds.digest };
    const verdict = await this.verifying.run(`${key}@${identity.dev}:${identity.ino}:${identity.size}:${identity.mtimeMs}:${identity.ctimeMs}`, () =>
      verifyChunkFile(fd, digest, check),
    );
    if (verdict.ok) {
      this.prove(key, verdict.identity);
      return { data: verdict.data, size: verdict.identity.size };
    }
    try {
      await this.quarantine(store, digest, fd, verdict.reason);
    } finally {
      closeQuietly(fd);
    }
    return undefined;
  }

  private prove(key: string, identity: FileIdentity): void {
    this.proofs.add(key, identity);
    for (const fn of this.proofListeners) fn(key, identity);
  }

  /** The chunk's file on this node, opened, or undefined when the volume does not hold it. */
  private openLocal(store: string, digest: string): number | undefined {
    return this.deps.volume.openChunkSync(store, digest);
  }

  /** Have the chunk-fetchers bring a chunk into the volume, once for every caller waiting for it in this process. */
  private fetch(store: string, digest: string, key: string, priority: Priority): Promise<FetchReply> {
    // A client read must not wait behind readahead queued at low priority: it asks at normal priority too (the
    // fetchers' own single flight and lock still make one S3 GET of it).
    if (priority === 'normal' && this.lowFetches.has(key)) return this.fetches.run(`${key}#normal`, () => this.deps.fetcher.fetch(store, digest, priority));
    if (priority === 'low' && !this.fetches.has(key)) {
      this.lowFetches.add(key);
      return this.fetches.run(key, () => this.deps.fetcher.fetch(store, digest, priority).finally(() => this.lowFetches.delete(key)));
    }
    return this.fetches.run(key, () => this.deps.fetcher.fetch(store, digest, priority));
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

/** A chunk file's size for the stats; 0 when it cannot be read (the hit is still counted). */
function fileSize(fd: number): number {
  try {
    return fstatSync(fd).size;
  } catch {
    return 0;
  }
}
