import { closeSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeJson, requestEviction, subjects, type EvictedEvent, type NatsConnection } from '@larder/bus';
import type { Config, ResolvedDatastore } from '@larder/config';
import { statusOf } from '@larder/errors';
import { SingleFlight } from '@larder/flight';
import { decodeAndVerifyChunk, isFormatError } from '@larder/formats';
import { ClaimWaitTimeoutError, type ChunkIndex, type FlightLocks, type KnownChunks, type WriterTouches } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import { chunkDigestOfKey } from '@larder/s3';
import { ChunkWriter, chunkKey, fileIdentity, type Volume } from '@larder/volume';
import type { ChunkReadahead } from '../chunk-readahead/index.js';
import type { ChunkStore } from '../chunk-store.js';
import { ChunkEtags, md5Etag } from './chunk-etags.js';
import type { ChunkObject, ChunkObjectInfo, ChunkObjects, ChunkPutOptions, ChunkPutResult, ChunkUpload } from './chunk-objects.js';
import { S3ApiError } from './s3-errors.js';

const log = createLogger('gateway');

/** How long, at most, a PUT waits for room on a full volume to cache its chunk (the object is in S3 already: caching it is a bonus). */
const PUT_CACHE_WAIT_MS = 2000;

/** How long, at most, a PUT of a chunk that GC claimed (it is deleting it) waits for the claim to end, then SlowDown. */
export const PUT_CLAIM_WAIT_MS = 30_000;

/**
 * The lease of a cross-process upload lock (renewed every third while the upload runs): a process that dies mid-upload
 * holds up the others' PUTs of that chunk for at most this long.
 */
const UPLOAD_LOCK_TTL_MS = 15_000;
/** How often a PUT waiting for another process's upload of its chunk looks at the record. */
const UPLOAD_WAIT_POLL_MS = 50;
/** How long, at most, a PUT waits for other processes' uploads of its chunk before it uploads it itself (never a hang). */
const UPLOAD_WAIT_MS = 2 * UPLOAD_LOCK_TTL_MS;

/** An ETag that is an MD5 (S3's for a single-part PUT). */
const MD5_ETAG = /^"[0-9a-fA-F]{32}"$/;

/** What the chunk objects of the S3 endpoint need: the gateway's config, chunk store and readahead, the node's record of known chunks, volume, index and bus. */
export interface ChunkObjectStoreDeps {
  config: () => Config;
  chunks: ChunkStore;
  /** Readahead for clients that walk an index chunk by chunk (a PBS restore or verify through the S3 endpoint). */
  readahead?: Pick<ChunkReadahead, 'observe'>;
  known: KnownChunks;
  /** The GC protocol's writer side: PUTs to an owned datastore touch their chunk first (issue 12). */
  touches: WriterTouches;
  /** How long a PUT of a claimed chunk waits (default {@link PUT_CLAIM_WAIT_MS}). */
  claimWaitMs?: number;
  /**
   * Single flight of uploads across the node's processes (several gateways behind one endpoint): one process uploads a
   * new chunk, the others' PUTs of it wait for the record of that upload. Without it, only PUTs within this process share one.
   */
  locks?: FlightLocks;
  volume: Volume;
  index: ChunkIndex;
  /** For room on a full volume (`indexEvict`), the pressure signal, and telling every gateway of the node about deleted chunks. */
  nc: NatsConnection;
}

/** Counters of the chunk objects served by the S3 endpoint (since the gateway started), for `/v1/status`. */
export interface ChunkObjectStats {
  /** Chunk PUTs sent to S3. */
  putsUploaded: number;
  /** Chunk PUTs not sent: the chunk was known to be in S3. */
  putsKnown: number;
  /** Chunk PUTs to an owned datastore that found the chunk claimed by GC and waited for the claim to end. */
  putsClaimWaits: number;
  /** Chunk PUTs S3 answered 412 to (If-None-Match: the object was there). */
  putsExisting: number;
  /** Chunk PUTs not sent because another process of the node was uploading the chunk (they waited for its upload). */
  putsJoinedNode: number;
  /** Body bytes of the PUTs not sent. */
  bytesNotUploaded: number;
  /** PUTs refused because the body is not the chunk its key names. */
  verifyRefused: number;
  /** PUTs in S3 whose chunk could not be cached (full volume, Redis down): logged; the client's PUT succeeded. */
  cacheFailures: number;
  /** Chunk objects deleted through the endpoint. */
  deletes: number;
  /** Chunk GETs served from the volume, and those fetched first. */
  getHits: number;
  getMisses: number;
}

/** How a PUT's upload went, shared by the concurrent PUTs of one chunk. */
type UploadOutcome = 'uploaded' | 'known' | 'existing';

/**
 * The chunk objects of the S3 endpoint (see {@link ChunkObjects}): GETs through the gateway's chunk store (the cache,
 * one S3 GET per chunk, verified), PUTs verified, sent to S3 unless the node's record says S3 has the chunk, then cached;
 * deletes forgotten everywhere on the node.
 */
export class ChunkObjectStore implements ChunkObjects {
  private readonly etags = new ChunkEtags();
  /** Chunks PUT through this store being written to the volume, by chunk key: a GET or HEAD of one waits for it. */
  private readonly caching = new Map<string, Promise<void>>();
  private readonly uploads = new SingleFlight<{ outcome: UploadOutcome; etag: string }>();
  private readonly writer: ChunkWriter;
  private readonly counters: ChunkObjectStats = {
    putsUploaded: 0,
    putsKnown: 0,
    putsClaimWaits: 0,
    putsExisting: 0,
    putsJoinedNode: 0,
    bytesNotUploaded: 0,
    verifyRefused: 0,
    cacheFailures: 0,
    deletes: 0,
    getHits: 0,
    getMisses: 0,
  };

  constructor(private readonly deps: ChunkObjectStoreDeps) {
    const { config, nc, volume } = deps;
    this.writer = new ChunkWriter({
      volume,
      settings: () => {
        const cfg = config();
        return { reserve: cfg.volume.reserve, capacity: cfg.capacity, timeoutMs: Math.min(cfg.fetcher.timeout, PUT_CACHE_WAIT_MS) };
      },
      requestRoom: (req) =>
        requestEviction(nc, config().namespace, req).catch((err: unknown) => log.warn('the cache-index did not make room on the volume', { ...req, err: (err as Error).message })),
    });
  }

  digestOf(ds: ResolvedDatastore, key: string): string | undefined {
    return chunkDigestOfKey({ layout: ds.layout, prefix: '' }, key);
  }

  async open(ds: ResolvedDatastore, digest: string, socket: Socket): Promise<ChunkObject> {
    this.deps.readahead?.observe(ds.name, digest, socket);
    await this.caching.get(chunkKey(ds.name, digest));
    let opened;
    try {
      opened = await this.deps.chunks.open(ds.name, digest);
    } catch (err) {
      if (statusOf(err) === 404) throw new S3ApiError('NoSuchKey', `no chunk ${digest} in datastore ${ds.name}`, undefined, { cause: err });
      throw err;
    }
    try {
      const info = await this.etags.of(chunkKey(ds.name, digest), opened.fd);
      if (opened.hit) this.counters.getHits++;
      else this.counters.getMisses++;
      return { fd: opened.fd, hit: opened.hit, ...info };
    } catch (err) {
      closeQuietly(opened.fd);
      throw err;
    }
  }

  async head(ds: ResolvedDatastore, digest: string): Promise<ChunkObjectInfo | undefined> {
    await this.caching.get(chunkKey(ds.name, digest));
    const opened = await this.deps.chunks.openIfCached(ds.name, digest);
    if (!opened) return undefined;
    try {
      return await this.etags.of(chunkKey(ds.name, digest), opened.fd);
    } finally {
      closeQuietly(opened.fd);
    }
  }

  async put(ds: ResolvedDatastore, digest: string, body: Buffer, upload: ChunkUpload, opts: ChunkPutOptions): Promise<ChunkPutResult> {
    this.verify(ds, digest, body);
    const key = chunkKey(ds.name, digest);
    let joined = true;
    const { outcome, etag } = await this.uploads.run(key, () => {
      joined = false;
      return this.upload(ds, digest, body, upload, opts);
    });
    // A PUT that joined another's upload of the chunk finds the object there (made by that PUT) when it asked for If-None-Match.
    const existed = outcome !== 'uploaded' || joined;
    return { etag, uploaded: outcome === 'uploaded', preconditionFailed: opts.ifNoneMatch && existed };
  }

  async knownPut(ds: ResolvedDatastore, digest: string, bytes: number): Promise<boolean> {
    const isKnown = await this.isKnown(ds, digest);
    if (isKnown) {
      this.counters.putsKnown++;
      this.counters.bytesNotUploaded += bytes;
    }
    return isKnown === true;
  }

  async deleted(ds: ResolvedDatastore, digests: string[]): Promise<void> {
    if (digests.length === 0) return;
    const { known, volume, index, nc, config, chunks } = this.deps;
    this.counters.deletes += digests.length;
    const keys = digests.map((d) => chunkKey(ds.name, d));
    // A PUT's caching still under way would admit the chunk after it was removed: let it finish first.
    await Promise.all(keys.flatMap((k) => this.caching.get(k) ?? []));
    await known.forget(ds.name, digests);
    for (const [i, d] of digests.entries()) {
      await volume.removeChunk(ds.name, d).catch((err: unknown) => log.warn('cannot remove a deleted chunk from the volume', { store: ds.name, digest: d, err }));
      this.etags.delete(keys[i]!);
      chunks.forget(keys[i]!);
    }
    await index
      .remove(keys)
      .catch((err: unknown) => log.warn('cannot remove deleted chunks from the index (the next reconcile will)', { store: ds.name, count: keys.length, err }));
    // Every gateway of the node closes the files of these chunks it holds open, as after an eviction.
    nc.publish(subjects(config().namespace).indexEvicted, encodeJson({ keys } satisfies EvictedEvent));
  }

  seen(ds: ResolvedDatastore, digest: string): void {
    this.deps.known.recordSoon(ds.name, digest);
  }

  /** The counters, for `/v1/status` (`s3Chunks`). */
  status(): ChunkObjectStats {
    return { ...this.counters };
  }

  /** Refuse a body that is not chunk `digest` of the datastore's layout (S3ApiError BadDigest or InvalidRequest). */
  private verify(ds: ResolvedDatastore, digest: string, body: Buffer): void {
    try {
      decodeAndVerifyChunk(ds.layout, digest, body, ds.digest);
    } catch (err) {
      this.counters.verifyRefused++;
      const what = ds.layout === 'pbs' ? 'a DataBlob' : 'a zstd frame';
      if (isFormatError(err) && err.code === 'digest-mismatch') {
        throw new S3ApiError('BadDigest', `the body is not chunk ${digest} of datastore ${ds.name}: ${err.message}`, undefined, { cause: err });
      }
      throw new S3ApiError(
        'InvalidRequest',
        `the body is not a valid chunk of datastore ${ds.name} (${ds.layout}: ${what} of data whose ${ds.digest} is the key): ${(err as Error).message}`,
        undefined,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * Send a verified body to S3 unless known to be there, then record it; its ETag is S3's when S3 gave an MD5 one (it
   * checked the body), else computed. Caching it follows in the background: the client's answer waits for S3 alone.
   */
  private async upload(ds: ResolvedDatastore, digest: string, body: Buffer, upload: ChunkUpload, opts: ChunkPutOptions): Promise<{ outcome: UploadOutcome; etag: string }> {
    const { known } = this.deps;
    const isKnown = opts.unknown ? false : await this.isKnown(ds, digest);
    let outcome: UploadOutcome;
    let etag: string | undefined;
    if (isKnown) {
      outcome = 'known';
      this.counters.putsKnown++;
      this.counters.bytesNotUploaded += body.byteLength;
    } else {
      const sent = await this.uploadOnNode(ds, digest, async () => {
        const answer = await upload(body, { ifNoneMatch: opts.ifNoneMatch });
        if (answer.preconditionFailed) this.counters.putsExisting++;
        else this.counters.putsUploaded++;
        // S3 has it now (a known record is not refreshed: only S3's word restarts the time-to-trust).
        await known.record(ds.name, [digest]);
        return answer;
      });
      if (sent) {
        outcome = sent.preconditionFailed ? 'existing' : 'uploaded';
        if (sent.etag && MD5_ETAG.test(sent.etag)) etag = sent.etag.toLowerCase();
      } else {
        outcome = 'existing';
        this.counters.putsJoinedNode++;
        this.counters.bytesNotUploaded += body.byteLength;
      }
    }
    etag ??= md5Etag(body);
    const key = chunkKey(ds.name, digest);
    const caching = this.cache(ds, digest, body, etag).finally(() => {
      if (this.caching.get(key) === caching) this.caching.delete(key);
    });
    this.caching.set(key, caching);
    return { outcome, etag };
  }

  /**
   * Run `send` (the upload and its record) unless another process of the node is uploading the same chunk: then wait
   * for that upload's record and resolve undefined (the chunk is in S3; nothing sent). Should the other upload fail
   * or its process die (its lease ends), this one takes the lock and sends; after {@link UPLOAD_WAIT_MS} it sends
   * regardless. Redis down: sends, as without the lock (an upload twice rather than a PUT refused).
   */
  private async uploadOnNode<T>(ds: ResolvedDatastore, digest: string, send: () => Promise<T>): Promise<T | undefined> {
    const { locks, known, config } = this.deps;
    if (!locks) return send();
    const lockKey = `${chunkKey(ds.name, digest)}:upload`;
    const deadline = Date.now() + UPLOAD_WAIT_MS;
    for (;;) {
      const token = await locks.acquire(lockKey, UPLOAD_LOCK_TTL_MS).catch((err: unknown) => {
        log.warn('upload lock: Redis did not answer; uploading without it', { key: lockKey, err: (err as Error).message });
        return null;
      });
      if (token === null) return send();
      if (token !== undefined) {
        const renew = setInterval(() => void locks.extend(lockKey, token, UPLOAD_LOCK_TTL_MS).catch(() => {}), UPLOAD_LOCK_TTL_MS / 3);
        try {
          return await send();
        } finally {
          clearInterval(renew);
          await locks.release(lockKey, token).catch(() => {});
        }
      }
      await sleep(UPLOAD_WAIT_POLL_MS);
      const [isKnown] = await known.known(ds.name, [digest], config().gateway.knownChunkTtl);
      if (isKnown) return undefined;
      if (Date.now() >= deadline) return send();
    }
  }

  /**
   * Whether S3 is known to hold the chunk, so its PUT need not be sent. For an owned datastore this is the GC protocol's
   * touch (before the upload or the skip, see ChunkTouches): a chunk GC claimed is waited for, then touched again; a
   * Redis that cannot record the touch fails the PUT (503) rather than let a write go unrecorded. Otherwise the known
   * record is asked, and a Redis that does not answer only costs an upload.
   */
  private async isKnown(ds: ResolvedDatastore, digest: string): Promise<boolean> {
    const { known, touches, config } = this.deps;
    const trustMs = config().gateway.knownChunkTtl;
    if (!ds.owned) return (await known.known(ds.name, [digest], trustMs))[0] === true;
    const waitMs = this.deps.claimWaitMs ?? PUT_CLAIM_WAIT_MS;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [answer] = await touches.touch(ds.name, [digest], trustMs);
      if (answer !== 'claimed') return answer === 'known';
      this.counters.putsClaimWaits++;
      try {
        await touches.awaitUnclaimed(ds.name, [digest], Math.max(0, deadline - Date.now()));
      } catch (err) {
        if (err instanceof ClaimWaitTimeoutError)
          throw new S3ApiError('SlowDown', `chunk ${digest} of datastore ${ds.name} is being deleted by GC; retry`, undefined, { cause: err });
        throw err;
      }
    }
  }

  /** Wait for the chunks this store is writing to the volume (after their PUTs were answered). */
  async idle(): Promise<void> {
    while (this.caching.size > 0) await Promise.all(this.caching.values());
  }

  /** Write the chunk to the volume (unless there) and admit it; a failure is logged and counted, never the client's. */
  private async cache(ds: ResolvedDatastore, digest: string, body: Buffer, etag: string): Promise<void> {
    const { volume, index, chunks, nc, config } = this.deps;
    const key = chunkKey(ds.name, digest);
    try {
      let size = await volume.chunkSize(ds.name, digest);
      if (size === undefined) {
        await this.writer.write(ds.name, digest, body);
        size = body.byteLength;
        const st = statSync(volume.chunkPath(ds.name, digest), { throwIfNoEntry: false });
        if (st) {
          const identity = fileIdentity(st);
          chunks.vouch(key, identity);
          this.etags.add(key, identity, etag);
        }
      }
      const admitted = await index.admit(key, size);
      const cfg = config();
      if (admitted.usedBytes > cfg.capacity) nc.publish(subjects(cfg.namespace).indexPressure, encodeJson({ usedBytes: admitted.usedBytes }));
    } catch (err) {
      this.counters.cacheFailures++;
      log.warn('a chunk PUT to S3 could not be cached', { store: ds.name, digest, err: (err as Error).message });
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
