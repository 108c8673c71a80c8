/** Every NATS subject and service name of one Larder namespace, so that stacks never overhear each other. */
export interface Subjects {
  /** Request/reply: fetch a chunk into the volume (queue group of chunk-fetchers). */
  readonly fetch: string;
  /** Events: a chunk fetch finished (ok or failed), `<prefix>.<store>.<digest>`. */
  chunkDone(store: string, digest: string): string;
  /** Events: used bytes passed the capacity; the cache-index evicts. */
  readonly indexPressure: string;
  /** Request/reply: totals and capacity from the cache-index. */
  readonly indexStatus: string;
  /** Request/reply: run an eviction pass now and answer when done; an {@link EvictRequest} may ask for room. */
  readonly indexEvict: string;
  /** Events: the cache-index evicted these chunks and unlinked their files ({@link EvictedEvent}); whoever holds one open closes it. */
  readonly indexEvicted: string;
  /** Config generations (config-service). */
  readonly configGet: string;
  readonly configSet: string;
  readonly configHistory: string;
  readonly configGeneration: string;
  /** Request/reply to the GC worker: run (`GcRunRequest`), status (`GcStatus`), cancel; events: progress of a run (`GcReport`). */
  readonly gcRun: string;
  readonly gcStatus: string;
  readonly gcCancel: string;
  readonly gcProgress: string;
  /** Service names for the NATS services API ($SRV.PING.<name>). */
  readonly fetcherService: string;
  readonly indexService: string;
  readonly configService: string;
  readonly gcService: string;
}

/** Build the subjects of a namespace. */
export function subjects(namespace: string): Subjects {
  const p = `larder.${namespace}`;
  return {
    fetch: `${p}.chunk.fetch`,
    chunkDone: (store, digest) => `${p}.chunk.done.${store}.${digest}`,
    indexPressure: `${p}.index.pressure`,
    indexStatus: `${p}.index.status`,
    indexEvict: `${p}.index.evict`,
    indexEvicted: `${p}.index.evicted`,
    configGet: `${p}.config.get`,
    configSet: `${p}.config.set`,
    configHistory: `${p}.config.history`,
    configGeneration: `${p}.config.generation`,
    gcRun: `${p}.gc.run`,
    gcStatus: `${p}.gc.status`,
    gcCancel: `${p}.gc.cancel`,
    gcProgress: `${p}.gc.progress`,
    fetcherService: `${namespace}-chunk-fetcher`,
    indexService: `${namespace}-cache-index`,
    configService: `${namespace}-config-service`,
    gcService: `${namespace}-gc-worker`,
  };
}

/** The body of an `indexEvict` request (an empty body asks for a plain pass). */
export interface EvictRequest {
  /** Bytes the caller needs to write (the writes waiting for room and those in flight): evict until they fit within the effective capacity. */
  roomBytes?: number;
  /** The largest single write among them (default `roomBytes`): room for it is always made, however large. */
  largestBytes?: number;
}

/** What the cache-index publishes on `indexEvicted` after it removed chunks from the index and unlinked their files. */
export interface EvictedEvent {
  /** Chunk keys (`<store>/<digest>`). */
  keys: string[];
}
