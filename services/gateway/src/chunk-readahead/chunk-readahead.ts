import type { Config } from '@larder/config';
import { createLogger } from '@larder/telemetry';
import { chunkKey } from '@larder/volume';
import type { IndexMap, IndexMapStats, MappedIndex, Place } from './index-map.js';

const log = createLogger('gateway');

/** First occurrences a client may skip between two requests and still be walking the index (chunks it had from elsewhere). */
const SKIP = 4;
/** Positions looked at per request, at most, when matching a request or walking ahead (long runs of repeated chunks). */
const MAX_SCAN = 65_536;
/** Places of one digest followed at once while it is not clear which index a new stream walks. */
const MAX_PATHS = 8;
/** Sequential steps before readahead starts: a random reader is almost never sequential twice in a row. */
const MIN_RUN = 2;
/** ...and for a walk that began at an index's first chunk (how a restore or `casync extract` starts): one step. */
const MIN_RUN_FROM_START = 1;
/** The window when readahead starts: the client waits a round trip for its first chunks, so the first window covers several. */
export const START_WINDOW = 16;
/** Streams kept; the least recently active go first. A stream idle for `STREAM_IDLE_MS` is dropped. */
const MAX_STREAMS = 1024;
const STREAM_IDLE_MS = 60_000;
/**
 * Readahead fetches a gateway has in flight at once (each at the fetchers' low priority). A fetcher works on at most
 * half its `fetcher.concurrency` (default 128) low-priority fetches at once; a gateway keeps as many again queued
 * there, so that a slot that frees starts the next one without a bus round trip.
 */
export const MAX_INFLIGHT = 128;
/** Readahead fetches not yet asked for that are remembered; older ones count as wasted after `PENDING_MS`. */
const MAX_PENDING = 16_384;
const PENDING_MS = 120_000;

/** Fetching a chunk ahead: undefined when the volume holds it already, else its fetch (the gateway's ChunkStore). */
export type Prefetch = (store: string, digest: string) => Promise<unknown> | undefined;

/** A client's walk of an index: where it is, and how far ahead its chunks were asked for. */
interface Stream {
  store: string;
  /** Where it may be: one place once known, several while its first digests are in several indexes. The first is followed. */
  paths: Place[];
  /** Consecutive sequential steps. */
  run: number;
  /** Steps needed before readahead starts (fewer for a walk from an index's first chunk). */
  minRun: number;
  /** Readahead window in chunks to fetch (first occurrences), doubling while sequential. */
  window: number;
  /** The last position of `aheadOf` asked for ahead, and how many first occurrences lie between the client and it. */
  aheadOf: MappedIndex | undefined;
  ahead: number;
  aheadFirsts: number;
  lastAt: number;
}

/** Counters of chunk readahead (cumulative since the gateway started). */
export interface ChunkReadaheadStats {
  enabled: boolean;
  /** Readahead fetches started for chunks not on the volume. */
  issued: number;
  /** Of those, chunks a client then asked for. */
  used: number;
  /** Of those, chunks no client asked for within 2 minutes (or forgotten for room). */
  wasted: number;
  /** Of those, fetches that failed. */
  failed: number;
  /** Chunks ahead that were on the volume already (nothing fetched). */
  present: number;
  /** Readahead fetches under way now. */
  inflight: number;
  /** Clients walking an index now, and those with readahead running. */
  streams: number;
  sequentialStreams: number;
  map: IndexMapStats;
  /** Per index (at most 32, most issued first): readahead issued and used. */
  indexes: { store: string; image: string; issued: number; used: number }[];
}

/**
 * Readahead for clients that fetch chunk by chunk (casync's store route, the chunk route): each request is
 * placed in the datastore's indexes through the {@link IndexMap}; a client whose requests follow an index in
 * order (by its connection, or by the digests alone: another connection of the same walk is recognised) gets
 * the next chunks of that index fetched before it asks, with the image reader's adaptive window (it doubles
 * while the client stays sequential, up to `images.readahead` 4 MiB chunks, scaled up for smaller chunks, at
 * most 256) at the fetchers' low priority and at most {@link MAX_INFLIGHT} fetches at once per gateway. A client
 * that jumps loses its window; a client whose digests are in no known index is served as before.
 *
 * Walking clients such as `casync extract` ask for each distinct chunk once, in index order, skipping chunks
 * they already have (repeats, zero runs): a stream therefore advances over positions whose digest occurred
 * earlier in the index, and readahead counts and fetches only first occurrences.
 */
export class ChunkReadahead {
  private readonly bySocket = new WeakMap<object, Stream>();
  private readonly streams = new Set<Stream>(); // insertion order = recency (re-inserted on use)
  private readonly pending = new Map<string, { img: MappedIndex; at: number }>();
  /** Per datastore whose indexes are being mapped: its latest request, placed once the map is ready. */
  private readonly deferred = new Map<string, { digest: string; client: object; at: number }>();
  private inflight = 0;
  private issued = 0;
  private used = 0;
  private wasted = 0;
  private failed = 0;
  private present = 0;
  private readonly perIndex = new Map<string, { store: string; image: string; issued: number; used: number }>();

  constructor(
    private readonly map: IndexMap,
    private readonly prefetch: Prefetch,
    private readonly config: () => Config,
  ) {}

  stats(): ChunkReadaheadStats {
    this.expire(Date.now());
    let sequential = 0;
    for (const s of this.streams) if (s.window > 0) sequential++;
    const indexes = [...this.perIndex.values()].sort((a, b) => b.issued - a.issued).slice(0, 32);
    return {
      enabled: this.map.budget > 0,
      issued: this.issued,
      used: this.used,
      wasted: this.wasted,
      failed: this.failed,
      present: this.present,
      inflight: this.inflight,
      streams: this.streams.size,
      sequentialStreams: sequential,
      map: this.map.stats(),
      indexes: indexes.map((i) => ({ ...i })),
    };
  }

  /** A client (its connection: any object that stays the same for it) asks for a chunk; never throws. */
  observe(store: string, digest: string, client: object): void {
    try {
      this.step(store, digest, client);
    } catch (err) {
      log.warn('chunk readahead failed', { store, digest, err });
    }
  }

  private step(store: string, digest: string, client: object): void {
    if (this.map.budget <= 0) return;
    const key = chunkKey(store, digest);
    const ahead = this.pending.get(key);
    if (ahead) {
      this.pending.delete(key);
      this.used++;
      ahead.img.used++;
      this.counters(ahead.img).used++;
    }
    if (!this.map.ready(store)) {
      this.defer(store, digest, client);
      return;
    }
    this.place(store, digest, client);
  }

  /**
   * The datastore's indexes are being mapped (its first request): place its latest request once they are, so that
   * a client walking from the start need not ask again before its readahead can start.
   */
  private defer(store: string, digest: string, client: object): void {
    const loading = this.map.loading(store);
    if (!loading) return;
    const waiting = this.deferred.has(store);
    this.deferred.set(store, { digest, client, at: Date.now() });
    if (waiting) return;
    void loading.then(() => {
      const last = this.deferred.get(store);
      this.deferred.delete(store);
      if (!last || !this.map.ready(store)) return;
      // The client was placed since (its index was mapped before the others): its walk is known already.
      const placed = this.bySocket.get(last.client);
      if (placed && placed.lastAt >= last.at) return;
      try {
        this.place(store, last.digest, last.client);
      } catch (err) {
        log.warn('chunk readahead failed', { store, digest: last.digest, err });
      }
    });
  }

  /** Place a request in the indexes of `store`: follow, join or start the client's walk, and read ahead of it. */
  private place(store: string, digest: string, client: object): void {
    const now = Date.now();
    const bytes = Buffer.from(digest, 'hex');
    const k = bytes.readUInt32LE(0);
    let stream = this.bySocket.get(client);
    if (stream && (stream.store !== store || now - stream.lastAt > STREAM_IDLE_MS)) stream = undefined;
    let step = stream ? this.advance(stream, k, bytes) : 'none';
    if (step === 'none') {
      const places = this.map.lookup(store, k, bytes);
      if (places.length === 0) {
        this.bySocket.delete(client);
        this.expire(now);
        return;
      }
      // A new connection continuing a walk already followed (a client that reconnects or uses several): join it.
      const other = stream ? undefined : this.follower(store, places, k, bytes);
      if (other) {
        stream = other.stream;
        step = other.step;
      } else {
        // A new walk, or this client jumped: a stream of its own (one it shared goes on for the others).
        const paths = places.slice(0, MAX_PATHS);
        const minRun = paths.some((p) => p.pos === 0) ? MIN_RUN_FROM_START : MIN_RUN;
        stream = { store, paths, run: 0, minRun, window: 0, aheadOf: undefined, ahead: -1, aheadFirsts: 0, lastAt: now };
      }
      this.bySocket.set(client, stream);
    }
    if (!stream) return; // not reached: a step other than 'none' comes from a stream
    stream.lastAt = now;
    this.streams.delete(stream);
    this.streams.add(stream);
    if (step === 'moved') {
      stream.run++;
      const followed = stream.paths[0] as Place;
      followed.img.lastUsed = now;
      if (stream.run >= stream.minRun) {
        stream.window = Math.min(this.maxWindow(followed.img), Math.max(START_WINDOW, stream.window * 2));
        this.readahead(stream, followed);
      }
    }
    this.expire(now);
  }

  /**
   * Move the stream's paths to the request's place, if it is ahead of them within reach (at most SKIP first
   * occurrences skipped); keep only the paths that moved. 'same' when it asked for the chunk it is at again;
   * 'none' (nothing changed) when no path reaches it.
   */
  private advance(stream: Stream, key: number, digest: Buffer): 'none' | 'same' | 'moved' {
    const moved: Place[] = [];
    for (const path of stream.paths) {
      const p = reach(path, key, digest);
      if (p >= 0) moved.push({ img: path.img, pos: p });
    }
    if (moved.length === 0) return 'none';
    const before = stream.paths[0] as Place;
    stream.paths = moved;
    const now = moved[0] as Place;
    if (now.img === before.img && now.pos === before.pos) return 'same';
    if (now.img !== before.img || now.img !== stream.aheadOf) {
      stream.aheadOf = undefined;
      stream.ahead = -1;
      stream.aheadFirsts = 0;
    } else if (now.pos >= stream.ahead) {
      stream.ahead = now.pos;
      stream.aheadFirsts = 0;
    } else {
      // The client passed the first occurrences between where it was and where it is.
      for (let i = before.pos + 1; i <= now.pos; i++) if (now.img.isFirst(i)) stream.aheadFirsts--;
      stream.aheadFirsts = Math.max(0, stream.aheadFirsts);
    }
    return 'moved';
  }

  /** A stream that this request continues (moved there), among those on the indexes holding the digest. */
  private follower(store: string, places: Place[], key: number, digest: Buffer): { stream: Stream; step: 'same' | 'moved' } | undefined {
    for (const s of this.streams) {
      if (s.store !== store || !s.paths.some((p) => places.some((q) => q.img === p.img))) continue;
      const step = this.advance(s, key, digest);
      if (step !== 'none') return { stream: s, step };
    }
    return undefined;
  }

  /** Ask for the first occurrences after the client's place until `window` of them are asked for (or the budget is used). */
  private readahead(stream: Stream, at: Place): void {
    const { img } = at;
    const n = img.index.chunkCount;
    if (stream.aheadOf !== img || stream.ahead < at.pos) {
      stream.aheadOf = img;
      stream.ahead = at.pos;
      stream.aheadFirsts = 0;
    }
    for (let scanned = 0; stream.aheadFirsts < stream.window && stream.ahead + 1 < n && scanned < MAX_SCAN; scanned++) {
      const i = stream.ahead + 1;
      if (img.isFirst(i)) {
        if (!this.fetchAhead(stream.store, img, i)) return;
        stream.aheadFirsts++;
      }
      stream.ahead = i;
    }
  }

  /** Start fetching chunk i of `img` ahead; false when the gateway's readahead budget is used up. */
  private fetchAhead(store: string, img: MappedIndex, i: number): boolean {
    if (this.inflight >= MAX_INFLIGHT) return false;
    const digest = img.index.chunkDigest(i);
    const key = chunkKey(store, digest);
    if (this.pending.has(key)) return true;
    const fetch = this.prefetch(store, digest);
    if (!fetch) {
      this.present++;
      return true;
    }
    this.inflight++;
    this.issued++;
    img.issued++;
    this.counters(img).issued++;
    this.pending.set(key, { img, at: Date.now() });
    if (this.pending.size > MAX_PENDING) {
      this.pending.delete(this.pending.keys().next().value as string);
      this.wasted++;
    }
    fetch.then(
      () => this.inflight--,
      (err: unknown) => {
        this.inflight--;
        // Failed: not wasted but failed; the client's own request retries it and reports the error.
        if (this.pending.delete(key)) this.failed++;
        log.debug('chunk readahead fetch failed', { key, err });
      },
    );
    return true;
  }

  private counters(img: MappedIndex): { store: string; image: string; issued: number; used: number } {
    const id = `${img.store}/${img.name}`;
    let c = this.perIndex.get(id);
    if (!c) {
      c = { store: img.store, image: img.name, issued: 0, used: 0 };
      this.perIndex.set(id, c);
      if (this.perIndex.size > 1024) this.perIndex.delete(this.perIndex.keys().next().value as string);
    }
    return c;
  }

  /** Forget idle streams and readahead no client asked for in time (wasted). */
  private expire(now: number): void {
    for (const s of this.streams) {
      if (this.streams.size <= MAX_STREAMS && now - s.lastAt < STREAM_IDLE_MS) break;
      this.streams.delete(s);
    }
    for (const [key, p] of this.pending) {
      if (now - p.at < PENDING_MS) break;
      this.pending.delete(key);
      this.wasted++;
    }
  }

  /**
   * The window limit in chunks, as the image reader's: `images.readahead` for 4 MiB chunks, scaled up for
   * smaller ones so that the bytes in flight, not the request count, cover the link's delay; at most 256.
   */
  private maxWindow(img: MappedIndex): number {
    const { index } = img;
    const avg = index.chunkCount > 0 ? index.size / index.chunkCount : 4 * 2 ** 20;
    const scale = Math.max(1, Math.round((4 * 2 ** 20) / Math.max(1, avg)));
    return Math.min(256, this.config().images.readahead * scale);
  }
}

/**
 * Where a request for `digest` continues a walk at `path`: the same position (asked again), or the first
 * position ahead holding it with at most SKIP first occurrences (chunks the client should have asked for)
 * between; -1 when it does not continue it.
 */
function reach(path: Place, key: number, digest: Buffer): number {
  const { img, pos } = path;
  if (img.matches(pos, key, digest)) return pos;
  const n = img.index.chunkCount;
  let firsts = 0;
  for (let i = pos + 1, scanned = 0; i < n && scanned < MAX_SCAN; i++, scanned++) {
    if (img.matches(i, key, digest)) return i;
    if (img.isFirst(i) && ++firsts > SKIP) return -1;
  }
  return -1;
}
