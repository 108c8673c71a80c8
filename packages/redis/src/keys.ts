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

/** The keys of S3 request budget `name`: a hash per operation class, the leases in flight and the processes sharing it. */
export function budgetKeys(namespace: string, name: string): { cls: (c: string) => string; inflight: string; members: string } {
  const prefix = `{${namespace}}:budget:${name}:`;
  return { cls: (c) => `${prefix}${c}`, inflight: `${prefix}inflight`, members: `${prefix}members` };
}
