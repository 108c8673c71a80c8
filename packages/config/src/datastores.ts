import { layoutDigestAlgorithm } from '@larder/formats';
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
    clientBucket: ds.clientBucket ?? (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) ? name : undefined),
    prefix: ds.prefix,
    endpoint: ds.endpoint ?? config.s3.endpoint ?? embeddedEndpoint(config),
    region: ds.region ?? config.s3.region,
    pathStyle: ds.pathStyle ?? config.s3.pathStyle,
    accessKeyId: ds.accessKeyId ?? config.s3.accessKeyId ?? 'S3RVER',
    secretAccessKey: ds.secretAccessKey ?? config.s3.secretAccessKey ?? 'S3RVER',
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

/** The datastore that answers to a client-facing bucket name on the gateway's S3 endpoint. */
export function datastoreForClientBucket(config: Config, bucket: string): ResolvedDatastore | undefined {
  for (const name of Object.keys(config.datastores)) {
    const ds = resolveDatastore(config, name);
    if (ds?.clientBucket === bucket) return ds;
  }
  return undefined;
}
