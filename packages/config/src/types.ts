import type { z } from 'zod';
import type { accessKeySchema, budgetSchema, configSchema, datastoreSchema, tokenSchema } from './schema.js';

/** The validated configuration, sizes in bytes and durations in milliseconds. */
export type Config = z.output<typeof configSchema>;

/** One datastore as written in the configuration. */
export type DatastoreConfig = z.output<typeof datastoreSchema>;

/** An access key of the gateway's S3 endpoint. */
export type AccessKey = z.output<typeof accessKeySchema>;

/** A bearer token of the HTTP routes and config changes. */
export type Token = z.output<typeof tokenSchema>;

/** An S3 request budget. */
export type Budget = z.output<typeof budgetSchema>;

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
  /** Larder owns its S3 objects: GC may delete unreferenced chunks from S3. */
  owned: boolean;
  /** GC schedule in ms (undefined: on request only). */
  gcEvery: number | undefined;
  /** The request budget it counts against (a name in `budgets`), if any. */
  budget: string | undefined;
}
