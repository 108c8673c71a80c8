import { layoutDigestAlgorithm } from '@larder/formats';
import { clientBucketOf } from './schema.js';
import type { Config, ResolvedDatastore } from './types.js';

/** The endpoint of the embedded S3 server that `pnpm start` runs when no endpoint is configured. */
export function embeddedEndpoint(config: Config): string {
  return `http://${config.s3.embedded.listen}`;
}

/** Datastores resolved so far, per Config object (a Config is never changed in place: a new generation is a new object). */
const resolved = new WeakMap<Config, Map<string, ResolvedDatastore>>();

/**
 * A datastore's S3 connection resolved from its own fields and the `s3` defaults; undefined for an unknown name.
 * Resolved once per Config object and name: hot paths call this per request and get the same object back.
 */
export function resolveDatastore(config: Config, name: string): ResolvedDatastore | undefined {
  let stores = resolved.get(config);
  const hit = stores?.get(name);
  if (hit) return hit;
  if (!Object.hasOwn(config.datastores, name)) return undefined;
  const ds = config.datastores[name];
  if (!ds) return undefined;
  const out: ResolvedDatastore = {
    name,
    layout: ds.layout,
    digest: ds.digest ?? layoutDigestAlgorithm(ds.layout),
    bucket: ds.bucket,
    clientBucket: clientBucketOf(name, ds),
    prefix: ds.prefix,
    endpoint: ds.endpoint ?? config.s3.endpoint ?? embeddedEndpoint(config),
    region: ds.region ?? config.s3.region,
    pathStyle: ds.pathStyle ?? config.s3.pathStyle,
    accessKeyId: ds.accessKeyId ?? config.s3.accessKeyId ?? 'S3RVER',
    secretAccessKey: ds.secretAccessKey ?? config.s3.secretAccessKey ?? 'S3RVER',
    owned: ds.owned,
    gcEvery: ds.gcEvery,
    budget: ds.budget,
  };
  if (!stores) resolved.set(config, (stores = new Map<string, ResolvedDatastore>()));
  stores.set(name, out);
  return out;
}

/** Every datastore, resolved. */
export function resolveDatastores(config: Config): ResolvedDatastore[] {
  return Object.keys(config.datastores).map((n) => resolveDatastore(config, n) as ResolvedDatastore);
}

/** Whether the configuration relies on the embedded S3 server (no endpoint anywhere). */
export function usesEmbeddedS3(config: Config): boolean {
  return !config.s3.endpoint && Object.values(config.datastores).some((d) => !d.endpoint);
}

/** Per Config object: the datastores of each client bucket, longest prefix first. */
const byClientBucket = new WeakMap<Config, Map<string, ResolvedDatastore[]>>();

/**
 * The datastores that answer to a client-facing bucket name on the gateway's S3 endpoint, longest prefix first: a
 * client bucket is one upstream bucket (the schema makes its datastores agree on bucket and connection), client keys
 * are upstream keys, and a key belongs to the first datastore whose prefix it lies under (PBS puts its datastore's
 * name in front of every key: a datastore with that prefix makes them chunk keys). Empty for an unknown bucket.
 */
export function datastoresForClientBucket(config: Config, bucket: string): readonly ResolvedDatastore[] {
  let map = byClientBucket.get(config);
  if (!map) {
    map = new Map();
    for (const ds of resolveDatastores(config)) {
      if (ds.clientBucket === undefined) continue;
      const list = map.get(ds.clientBucket) ?? [];
      list.push(ds);
      map.set(ds.clientBucket, list);
    }
    for (const list of map.values()) list.sort((a, b) => b.prefix.length - a.prefix.length || a.name.localeCompare(b.name));
    byClientBucket.set(config, map);
  }
  return map.get(bucket) ?? [];
}

/** The datastore whose upstream bucket and connection serve a client bucket (the one with the shortest prefix). */
export function datastoreForClientBucket(config: Config, bucket: string): ResolvedDatastore | undefined {
  const list = datastoresForClientBucket(config, bucket);
  return list[list.length - 1];
}

/** The datastore a client key of a client bucket lies in, and the key within it (prefix removed); undefined when none holds it. */
export function datastoreForClientKey(config: Config, bucket: string, key: string): { ds: ResolvedDatastore; key: string } | undefined {
  for (const ds of datastoresForClientBucket(config, bucket)) {
    if (!ds.prefix) return { ds, key };
    if (key.startsWith(`${ds.prefix}/`)) return { ds, key: key.slice(ds.prefix.length + 1) };
  }
  return undefined;
}
