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
  /** Request/reply: run an eviction pass now and answer when done. */
  readonly indexEvict: string;
  /** Config generations (config-service). */
  readonly configGet: string;
  readonly configSet: string;
  readonly configHistory: string;
  readonly configGeneration: string;
  /** Service names for the NATS services API ($SRV.PING.<name>). */
  readonly fetcherService: string;
  readonly indexService: string;
  readonly configService: string;
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
    configGet: `${p}.config.get`,
    configSet: `${p}.config.set`,
    configHistory: `${p}.config.history`,
    configGeneration: `${p}.config.generation`,
    fetcherService: `${namespace}-chunk-fetcher`,
    indexService: `${namespace}-cache-index`,
    configService: `${namespace}-config-service`,
  };
}
