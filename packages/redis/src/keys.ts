import { IndexScriptCode, indexError } from './errors.js';

/** Redis keys of one chunk index; all share the Cluster hash tag `{namespace}`. */
export interface IndexKeys {
  /** Sorted set: member = chunk key, score = last access time in ms. */
  lru: string;
  /** Hash: member -> size in bytes. */
  size: string;
  /** String integer: total bytes of all members. */
  used: string;
  /** Hash of counters (hits, misses, evictions, evictedBytes, ...). */
  stats: string;
}

/** Throw BAD_ARGUMENT unless `namespace` is non-empty and free of the hash-tag braces `{` `}`. */
export function assertNamespace(op: string, namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || namespace.length === 0 || /[{}]/.test(namespace)) {
    throw indexError(IndexScriptCode.BAD_ARGUMENT, op, `namespace must be a non-empty string without "{" or "}", got ${JSON.stringify(namespace)}`);
  }
}

/** The index key prefix `{namespace}:idx:`. */
export function indexPrefix(namespace: string): string {
  return `{${namespace}}:idx:`;
}

/** The keys of the chunk index of `namespace`. */
export function indexKeys(namespace: string): IndexKeys {
  const prefix = indexPrefix(namespace);
  return { lru: `${prefix}lru`, size: `${prefix}size`, used: `${prefix}used`, stats: `${prefix}stats` };
}

/** The index epoch marker `{namespace}:idx:epoch` (JSON IndexEpoch), written with a rebuilt index; gone when Redis lost the index. */
export function epochKey(namespace: string): string {
  return `${indexPrefix(namespace)}epoch`;
}

/** The temporary keys a rebuild writes before it replaces the live index: `{namespace}:idx:rebuild:<token>:*`. */
export function rebuildKeys(namespace: string, token: string): { lru: string; size: string; used: string } {
  const prefix = `${indexPrefix(namespace)}rebuild:${token}:`;
  return { lru: `${prefix}lru`, size: `${prefix}size`, used: `${prefix}used` };
}

/** The single-flight lock key `{namespace}:flight:<chunkKey>`. */
export function flightKey(namespace: string, chunkKey: string): string {
  return `{${namespace}}:flight:${chunkKey}`;
}

/** The existence record of a datastore's chunks in S3: sorted set `{namespace}:known:<store>` (member digest, score = ms recorded). */
export function knownKey(namespace: string, store: string): string {
  return `{${namespace}}:known:${store}`;
}

/** Chunks of `store` touched for an upload not yet recorded as done: sorted set `{namespace}:gc:unconfirmed:<store>`. */
export function unconfirmedKey(namespace: string, store: string): string {
  return `{${namespace}}:gc:unconfirmed:${store}`;
}

/** The keys of the GC protocol for one datastore (issue 12; see ChunkTouches), beside its known record. */
export interface GcKeys {
  /** Sorted set `{ns}:known:<store>`: digest -> ms last touched (the known record). */
  known: string;
  /** Hash `{ns}:gc:claims:<store>`: digest -> `<expiryMs>:<runId>`, chunks a GC run is deleting. */
  claims: string;
  /** String `{ns}:gc:epoch:<store>`: ms since when the touch record is complete. */
  epoch: string;
  /** Sorted set `{ns}:gc:unconfirmed:<store>`: digest -> ms touched for an upload that was not recorded as done yet. */
  unconfirmed: string;
  /** Sorted set `{ns}:gc:writers:<store>`: writer id -> start (ms). */
  writers: string;
  /** Sorted set `{ns}:gc:heartbeats:<store>`: writer id -> heartbeat expiry (ms). */
  heartbeats: string;
}

/** The GC protocol's keys of datastore `store` in `namespace`. */
export function gcKeys(namespace: string, store: string): GcKeys {
  const gc = `{${namespace}}:gc:`;
  return {
    known: knownKey(namespace, store),
    claims: `${gc}claims:${store}`,
    epoch: `${gc}epoch:${store}`,
    unconfirmed: unconfirmedKey(namespace, store),
    writers: `${gc}writers:${store}`,
    heartbeats: `${gc}heartbeats:${store}`,
  };
}

/** The GC records of one datastore (see GcRuns): its lease, the run in progress, the last run, the last applied run's start, a cancel request. */
export function gcRunKeys(namespace: string, store: string): { lock: string; current: string; last: string; appliedAt: string; cancel: string } {
  const p = `{${namespace}}:gc:`;
  return { lock: `${p}lock:${store}`, current: `${p}current:${store}`, last: `${p}last:${store}`, appliedAt: `${p}applied-at:${store}`, cancel: `${p}cancel:${store}` };
}

/** The keys of S3 request budget `name`: a hash per operation class, the leases in flight and the processes sharing it. */
export function budgetKeys(namespace: string, name: string): { cls: (c: string) => string; inflight: string; members: string } {
  const prefix = `{${namespace}}:budget:${name}:`;
  return { cls: (c) => `${prefix}${c}`, inflight: `${prefix}inflight`, members: `${prefix}members` };
}
