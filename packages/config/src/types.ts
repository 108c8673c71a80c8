import type { z } from 'zod';
import type { accessKeySchema, configSchema, datastoreSchema } from './schema.js';

/** The validated configuration, sizes in bytes and durations in milliseconds. */
export type Config = z.output<typeof configSchema>;

/** One datastore as written in the configuration. */
export type DatastoreConfig = z.output<typeof datastoreSchema>;

/** An access key of the gateway's S3 endpoint. */
export type AccessKey = z.output<typeof accessKeySchema>;

/** A datastore with its S3 connection resolved from its own fields and the `s3` defaults. */
export interface ResolvedDatastore {
  name: string;
  layout: 'pbs' | 'casync' | 'restic';
  /** Digest algorithm of the chunk names. */
  digest: 'sha256' | 'sha512-256';
  bucket: string;
  /** The bucket name it answers to on the gateway's S3 endpoint (undefined: not served there). */
  clientBucket: string | undefined;
  prefix: string;
  endpoint: string;
  region: string;
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
}
