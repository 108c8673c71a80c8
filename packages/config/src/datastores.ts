import { layoutDigestAlgorithm } from '@larder/formats';
import type { Config, ResolvedDatastore } from './types.js';

/** The endpoint of the embedded S3 server that `pnpm start` runs when no endpoint is configured. */
export function embeddedEndpoint(config: Config): string {
  return `http://${config.s3.embedded.listen}`;
}

/** Resolve a datastore's S3 connection from its own fields and the `s3` defaults; undefined for an unknown name. */
export function resolveDatastore(config: Config, name: string): ResolvedDatastore | undefined {
  if (!Object.hasOwn(config.datastores, name)) return undefined;
  const ds = config.datastores[name];
  if (!ds) return undefined;
  return {
    name,
    layout: ds.layout,
    digest: ds.digest ?? layoutDigestAlgorithm(ds.layout),
    bucket: ds.bucket,
    prefix: ds.prefix,
    endpoint: ds.endpoint ?? config.s3.endpoint ?? embeddedEndpoint(config),
    region: ds.region ?? config.s3.region,
    pathStyle: ds.pathStyle ?? config.s3.pathStyle,
    accessKeyId: ds.accessKeyId ?? config.s3.accessKeyId ?? 'S3RVER',
    secretAccessKey: ds.secretAccessKey ?? config.s3.secretAccessKey ?? 'S3RVER',
  };
}

/** Every datastore, resolved. */
export function resolveDatastores(config: Config): ResolvedDatastore[] {
  return Object.keys(config.datastores).map((n) => resolveDatastore(config, n) as ResolvedDatastore);
}

/** Whether the configuration relies on the embedded S3 server (no endpoint anywhere). */
export function usesEmbeddedS3(config: Config): boolean {
  return !config.s3.endpoint && Object.values(config.datastores).some((d) => !d.endpoint);
}
