import { resolveDatastore, type Config } from '@larder/config';
import { listImageIndexes, type ImageEntry } from '@larder/datastore';
import type { ImageIndex } from '@larder/formats';
import { createLogger } from '@larder/telemetry';
import type { ImageInfo } from '../images/image-catalog.js';
import { PositionTable, SLOT_BYTES } from './position-table.js';

const log = createLogger('gateway');

/** Index files loaded at once while a datastore's indexes are mapped. */
const LOAD_CONCURRENCY = 4;

/** A mapped index that no stream used for this long may make room for a new one. */
const EVICTABLE_AFTER_MS = 120_000;

/** What the map needs to read an index (the gateway's ImageCatalog). */
export interface IndexSource {
  open(store: string, name: string): Promise<ImageInfo>;
}

/** One index in the map: its chunks' digest prefixes and which positions hold a digest's first occurrence. */
export class MappedIndex {
  /** First 4 bytes (little-endian) of each chunk's digest. */
  readonly prefixes: Uint32Array;
  /** Bit i set: position i is the first occurrence of its digest in this index (a client that walks it asks for those). */
  readonly first: Uint8Array;
  /** Memory this index costs in the map, its table entries aside (the index file held, prefixes, bits). */
  readonly bytes: number;
  /** Last time a client was found walking it (ms). */
  lastUsed: number;
  /** Readahead fetches issued for it and used by a client. */
  issued = 0;
  used = 0;

  constructor(
    readonly slot: number,
    readonly store: string,
    readonly name: string,
    readonly info: ImageInfo,
    /** The index file's size in the listing (a changed size means a new index under the same name). */
    readonly listedBytes: number,
  ) {
    const { index } = info;
    const n = index.chunkCount;
    this.prefixes = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.prefixes[i] = index.chunkDigestBytes(i).readUInt32LE(0);
    this.first = firstOccurrences(index, this.prefixes);
    this.bytes = info.indexBytes.length + this.prefixes.byteLength + this.first.byteLength;
    this.lastUsed = Date.now();
  }

  get index(): ImageIndex {
    return this.info.index;
  }

  /** Whether position i is its digest's first occurrence. */
  isFirst(i: number): boolean {
    return ((this.first[i >>> 3] as number) & (1 << (i & 7))) !== 0;
  }

  /** Whether chunk i's digest is `digest` (32 bytes) whose first 4 bytes read `key`. */
  matches(i: number, key: number, digest: Buffer): boolean {
    return this.prefixes[i] === key && this.index.chunkDigestBytes(i).equals(digest);
  }
}

/** Bits of the positions that hold their digest's first occurrence (a temporary hash table of 8 bytes per chunk). */
function firstOccurrences(index: ImageIndex, prefixes: Uint32Array): Uint8Array {
  const n = index.chunkCount;
  const bits = new Uint8Array(Math.ceil(n / 8));
  const cap = 2 ** Math.ceil(Math.log2(Math.max(16, n * 2)));
  const mask = cap - 1;
  const seen = new Int32Array(cap).fill(-1);
  for (let i = 0; i < n; i++) {
    const key = prefixes[i] as number;
    let dup = false;
    let h = key & mask;
    for (let p = seen[h] as number; p >= 0; h = (h + 1) & mask, p = seen[h] as number) {
      if (prefixes[p] === key && index.chunkDigestBytes(p).equals(index.chunkDigestBytes(i))) {
        dup = true;
        break;
      }
    }
    if (dup) continue;
    seen[h] = i;
    bits[i >>> 3] = (bits[i >>> 3] as number) | (1 << (i & 7));
  }
  return bits;
}

/** A place where a digest sits: an index and a position in it. */
export interface Place {
  img: MappedIndex;
  pos: number;
}

/** Per datastore: when its indexes were last listed, and the listing under way. */
interface StoreState {
  listedAt: number;
  /** The listing and loading under way. */
  refreshing: Promise<void> | undefined;
  /** Indexes of it in the map. */
  mapped: number;
  /** Names listed but not mapped for lack of room, with their listed sizes (tried again at the next listing). */
  skipped: Map<string, number>;
}

/** Counters of the map, for /v1/status. */
export interface IndexMapStats {
  budgetBytes: number;
  usedBytes: number;
  indexes: number;
  chunks: number;
  indexesSkipped: number;
  indexLoadFailures: number;
}

/**
 * The digest → positions map of every datastore's indexes, built lazily: the first chunk request of a datastore
 * lists its indexes (`.cnt/…`) and loads them through the image catalog, newest name first, in the background;
 * the listing is refreshed at most once per `images.indexTtl` while the datastore is used. The map costs about
 * 70 bytes per chunk of an index (the index record held, 40 bytes for .didx/.caibx, 32 for .fidx; a 4-byte
 * digest prefix; a first-occurrence bit; 17–34 bytes of table slot) and stays within `images.indexMapSize`:
 * an index that does not fit replaces the least recently walked ones (unused for 2 minutes), or is skipped.
 */
export class IndexMap {
  private readonly images: (MappedIndex | undefined)[] = [];
  private readonly byName = new Map<string, MappedIndex>();
  private readonly stores = new Map<string, StoreState>();
  private table = new PositionTable();
  private imageBytes = 0;
  private skippedCount = 0;
  private loadFailures = 0;

  constructor(
    private readonly config: () => Config,
    private readonly source: IndexSource,
    private readonly list: (store: string) => Promise<ImageEntry[]> = (store) => {
      const ds = resolveDatastore(config(), store);
      return ds ? listImageIndexes(ds) : Promise.resolve([]);
    },
  ) {}

  get budget(): number {
    return this.config().images.indexMapSize;
  }

  /** Bytes in use: mapped indexes and the table. */
  get usedBytes(): number {
    return this.imageBytes + this.table.bytes;
  }

  stats(): IndexMapStats {
    let indexes = 0;
    let chunks = 0;
    for (const img of this.images) {
      if (!img) continue;
      indexes++;
      chunks += img.index.chunkCount;
    }
    return { budgetBytes: this.budget, usedBytes: this.usedBytes, indexes, chunks, indexesSkipped: this.skippedCount, indexLoadFailures: this.loadFailures };
  }

  /** Whether any index of `store` is mapped; starts or refreshes the datastore's listing in the background when due. */
  ready(store: string): boolean {
    let st = this.stores.get(store);
    if (!st) {
      st = { listedAt: 0, refreshing: undefined, mapped: 0, skipped: new Map() };
      this.stores.set(store, st);
    }
    if (!st.refreshing && Date.now() - st.listedAt >= this.config().images.indexTtl) {
      const state = st;
      state.refreshing = this.refresh(store, state)
        .catch((err: unknown) => log.warn('chunk readahead: mapping indexes failed', { store, err }))
        .finally(() => {
          state.refreshing = undefined;
          state.listedAt = Date.now();
        });
    }
    return st.mapped > 0;
  }

  /** The listing and loading of `store`'s indexes under way (started by {@link ready}), if any; never rejects. */
  loading(store: string): Promise<void> | undefined {
    return this.stores.get(store)?.refreshing;
  }

  /** Where `digest` (32 bytes, first 4 read as `key`) sits in the mapped indexes of `store`: at most one place per index (its first occurrence). */
  lookup(store: string, key: number, digest: Buffer): Place[] {
    const out: Place[] = [];
    this.table.forEach(key, (slot, pos) => {
      const img = this.images[slot];
      if (img && img.store === store && img.matches(pos, key, digest)) out.push({ img, pos });
    });
    return out;
  }

  /** List a datastore's indexes; map the new ones, drop the gone or changed ones. */
  private async refresh(store: string, st: StoreState): Promise<void> {
    if (this.budget <= 0) return;
    let entries: ImageEntry[];
    try {
      entries = await this.list(store);
    } catch (err) {
      log.debug('chunk readahead: listing indexes failed', { store, err });
      return;
    }
    const listed = new Map(entries.map((e) => [e.name, e.indexBytes]));
    let dropped = false;
    for (const img of [...this.byName.values()]) {
      if (img.store === store && listed.get(img.name) !== img.listedBytes) {
        this.unmap(img);
        dropped = true;
      }
    }
    if (dropped) this.rebuildTable();
    // Newest first: PBS snapshot names sort by time, and the newest backups are the ones restored.
    const todo = entries.filter((e) => !this.byName.has(`${store}/${e.name}`)).sort((a, b) => b.name.localeCompare(a.name));
    st.skipped.clear();
    let next = 0;
    const worker = async () => {
      for (let e = todo[next++]; e; e = todo[next++]) await this.load(store, e, st);
    };
    await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
    this.skippedCount = 0;
    for (const s of this.stores.values()) this.skippedCount += s.skipped.size;
  }

  private async load(store: string, entry: ImageEntry, st: StoreState): Promise<void> {
    // Estimate first, from the listed size (about 40 bytes per chunk), so that an index that cannot fit is not read.
    const estimate = Math.ceil(entry.indexBytes * (1 + 4 / 40)) + this.table.bytesAfter(Math.ceil(entry.indexBytes / 32)) - this.table.bytes;
    if (!this.makeRoom(estimate)) {
      st.skipped.set(entry.name, entry.indexBytes);
      return;
    }
    let info: ImageInfo;
    try {
      info = await this.source.open(store, entry.name);
    } catch (err) {
      this.loadFailures++;
      log.debug('chunk readahead: index not mapped', { store, name: entry.name, err });
      return;
    }
    const key = `${store}/${entry.name}`;
    if (this.byName.has(key)) return;
    let slot = this.images.indexOf(undefined);
    if (slot < 0) slot = this.images.length;
    const img = new MappedIndex(slot, store, entry.name, info, entry.indexBytes);
    const cost = img.bytes + this.table.bytesAfter(img.index.chunkCount) - this.table.bytes;
    if (!this.makeRoom(cost)) {
      st.skipped.set(entry.name, entry.indexBytes);
      return;
    }
    this.images[slot] = img;
    this.byName.set(key, img);
    this.imageBytes += img.bytes;
    st.mapped++;
    this.insert(img);
  }

  /** Evict least recently walked indexes, unused for a while, until `bytes` more fit the budget; false if they cannot. */
  private makeRoom(bytes: number): boolean {
    if (this.usedBytes + bytes <= this.budget) return true;
    const old = [...this.byName.values()].filter((i) => Date.now() - i.lastUsed >= EVICTABLE_AFTER_MS).sort((a, b) => a.lastUsed - b.lastUsed);
    let freed = 0;
    const victims: MappedIndex[] = [];
    for (const img of old) {
      if (this.usedBytes - freed + bytes <= this.budget) break;
      victims.push(img);
      freed += img.bytes + img.index.chunkCount * SLOT_BYTES;
    }
    if (this.usedBytes - freed + bytes > this.budget) return false;
    for (const img of victims) this.unmap(img);
    if (victims.length > 0) this.rebuildTable();
    return this.usedBytes + bytes <= this.budget;
  }

  private unmap(img: MappedIndex): void {
    this.images[img.slot] = undefined;
    this.byName.delete(`${img.store}/${img.name}`);
    this.imageBytes -= img.bytes;
    const st = this.stores.get(img.store);
    if (st) st.mapped--;
  }

  private insert(img: MappedIndex): void {
    const n = img.index.chunkCount;
    for (let i = 0; i < n; i++) if (img.isFirst(i)) this.table.insert(img.prefixes[i] as number, img.slot, i);
  }

  private rebuildTable(): void {
    let entries = 0;
    for (const img of this.images) if (img) entries += img.index.chunkCount;
    this.table = new PositionTable(Math.ceil(entries / 0.7));
    for (const img of this.images) if (img) this.insert(img);
  }
}
