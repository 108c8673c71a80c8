import { z } from 'zod';
import { parseDuration, parseListen, parseSize } from './units.js';

const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = parseSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a size: ${JSON.stringify(v)} (write e.g. 10GiB, 512MiB or a number of bytes)` });
    return z.NEVER;
  }
  return bytes;
});

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (write e.g. 250ms, 30s, 5m)` });
    return z.NEVER;
  }
  return ms;
});

const listen = z.string().refine((v) => parseListen(v) !== undefined, { message: 'expected host:port' });

/** A fraction written as `5%` or `0.05`. */
const fraction = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*%\s*$/.test(v) ? parseFloat(v) / 100 : Number.NaN;
  if (!(n >= 0 && n < 1)) {
    ctx.addIssue({ code: 'custom', message: `not a fraction below 100%: ${JSON.stringify(v)} (write e.g. 5%)` });
    return z.NEVER;
  }
  return n;
});

/** Names used in NATS subjects, Redis keys and paths: no dots, slashes or spaces. */
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'use letters, digits, - and _ (at most 63, starting with a letter or digit)');

/** A price per unit: a finite, non-negative number. */
const price = z.number({ message: 'a price must be a number' }).finite().nonnegative({ message: 'a price cannot be negative' });

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Whether a name is a valid S3 bucket name (3–63 lower-case letters, digits, dots and hyphens). */
export function isBucketName(name: string): boolean {
  return BUCKET_NAME.test(name);
}

const bucketName = z.string().regex(BUCKET_NAME, 'not a valid S3 bucket name');

/** The bucket name a datastore answers to on the S3 endpoint: its `clientBucket`, else its own name when that is a valid bucket name. */
export function clientBucketOf(name: string, ds: { clientBucket?: string | undefined }): string | undefined {
  return ds.clientBucket ?? (BUCKET_NAME.test(name) ? name : undefined);
}

const s3Connection = {
  endpoint: z.string().url().optional(),
  region: z.string().optional(),
  pathStyle: z.boolean().optional(),
  accessKeyId: z.string().optional(),
  secretAccessKey: z.string().optional(),
};

export const datastoreSchema = z
  .object({
    layout: z.enum(['pbs', 'casync', 'restic']),
    /** Digest naming the chunks; default by layout (pbs sha256, casync sha512-256; casync --digest=sha256 stores need sha256). */
    digest: z.enum(['sha256', 'sha512-256']).optional(),
    bucket: bucketName,
    prefix: z
      .string()
      .default('')
      .refine((p) => !p.split('/').some((s) => s === '..' || s === '.'), { message: 'must not contain . or .. segments' })
      .transform((p) => p.replace(/^\/+|\/+$/g, '')),
    /** The bucket name this datastore answers to on the gateway's S3 endpoint; default: the datastore's name when it is a valid bucket name. */
    clientBucket: bucketName.optional(),
    /** Larder owns this datastore's S3 objects (it is written only through Larder): its GC deletes unreferenced chunks from S3. Never for a PBS datastore that runs its own GC. */
    owned: z.boolean().default(false),
    /** Run GC on this datastore this often (`24h`); absent: only when asked (`larder gc run`). */
    gcEvery: duration.pipe(z.number().min(60_000, { message: 'must be at least 1m' })).optional(),
    /** The request budget (a name in `budgets`) its S3 requests count against; datastores naming the same budget share it. */
    budget: name.optional(),
    ...s3Connection,
  })
  .strict();

/** A request budget for S3: requests per second by operation class and requests in flight, shared by every process of the node. */
export const budgetSchema = z
  .object({
    /** GET and HEAD requests per second (absent: unlimited). */
    getPerSecond: z.number().positive().optional(),
    /** PUT, POST, COPY and DELETE requests per second. */
    putPerSecond: z.number().positive().optional(),
    /** LIST requests per second. */
    listPerSecond: z.number().positive().optional(),
    /** Requests in flight at once, all classes. */
    concurrency: z.number().int().min(1).optional(),
    /** HTTP statuses that mean "slow down" (the rate shrinks, AIMD); some providers answer 403 to a rate limit. */
    throttleStatuses: z.array(z.number().int().min(400).max(599)).default([429, 503]),
  })
  .strict();

/** A bearer token of the gateway's HTTP routes, the CLI and config changes; give `token` or its `sha256` (hashed at rest). */
export const tokenSchema = z
  .object({
    /** Who holds it, for logs and status (never the secret). */
    name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'use 1 to 64 letters, digits, _ . @ -'),
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Lower-case hex SHA-256 of the token. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'the hex SHA-256 of the token (64 lower-case hex digits)')
      .optional(),
    /** read: chunks, images, indexes, NBD exports, status; admin: also config changes, warm, GC and writes. */
    scope: z.enum(['read', 'admin']).default('read'),
    /** Datastore names it may use, or `*`. */
    datastores: z.array(z.string().min(1)).min(1).default(['*']),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), { message: 'give exactly one of token and sha256' });

/** Files of a TLS identity (PEM). */
const tlsFiles = {
  /** CA bundle to verify the peer with. */
  caFile: z.string().optional(),
  /** Own certificate and key (a client certificate for Redis/NATS, the server's for NBD). */
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
};

/** An access key of the gateway's S3 endpoint: clients sign with it (SigV4); `buckets` are client-facing bucket names, or `*`. */
export const accessKeySchema = z
  .object({
    accessKeyId: z.string().regex(/^[A-Za-z0-9_.-]{3,128}$/, 'use 3 to 128 letters, digits, _ . -'),
    secretAccessKey: z.string().min(8, 'must be at least 8 characters'),
    buckets: z.array(z.string().min(1)).min(1).default(['*']),
    access: z.enum(['read', 'read-write']).default('read'),
  })
  .strict();

export const configSchema = z
  .object({
    namespace: name.default('larder'),
    capacity: size.default(10 * 2 ** 30),
    volume: z
      .object({
        path: z.string().default('.larder/volume'),
        reserve: fraction.default(0.05),
        fsync: z.boolean().default(true),
        /** Bytes per second the cache-index's scrubber re-reads and re-verifies chunk files at; 0 turns it off. */
        scrubRate: size.default(4 * 2 ** 20),
      })
      .strict()
      .default({ path: '.larder/volume', reserve: 0.05, fsync: true, scrubRate: 4 * 2 ** 20 }),
    redis: z
      .object({
        url: z.string().default('redis://127.0.0.1:6379'),
        /** ACL user and password (or put them in the URL, or LARDER_REDIS_PASSWORD). */
        username: z.string().optional(),
        password: z.string().optional(),
        /** TLS (also implied by a `rediss://` URL). */
        tls: z
          .object({ ...tlsFiles, servername: z.string().optional() })
          .strict()
          .optional(),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379' }),
    nats: z
      .object({
        servers: z.union([z.string(), z.array(z.string()).min(1)]).default('nats://127.0.0.1:4222'),
        /** User and password, or a token (or LARDER_NATS_PASSWORD / LARDER_NATS_TOKEN). */
        user: z.string().optional(),
        pass: z.string().optional(),
        token: z.string().optional(),
        tls: z.object(tlsFiles).strict().optional(),
      })
      .strict()
      .default({ servers: 'nats://127.0.0.1:4222' }),
    gateway: z
      .object({
        listen: listen.default('127.0.0.1:8780'),
        nbdListen: listen.default('127.0.0.1:10809'),
        requestTimeout: duration.default(20_000),
        /** A miss's request is sent again (to the queue group) when no progress or reply came from a fetcher for this long. */
        // At least two of the fetchers' progress intervals (1 s), so that one late progress message is not taken for a lost fetch.
        fetchLivenessTimeout: duration.pipe(z.number().min(2000, { message: 'must be at least 2s (fetchers send progress every second)' })).default(3000),
        touchFlushInterval: duration.default(1000),
        /** The S3-compatible endpoint (SigV4 with `accessKeys`); `false` serves none. */
        s3Listen: z.union([listen, z.literal(false)]).default('127.0.0.1:8781'),
        /** Allow `listen`, `nbdListen` or `s3Listen` on a non-loopback address without tokens / access keys (everything open to the network). */
        allowOpen: z.boolean().default(false),
        /** NBD over TLS (NBD_OPT_STARTTLS): a certificate and key, or a PSK file (`identity:hexkey` lines, as nbdkit and QEMU use). */
        nbdTls: z
          .object({
            ...tlsFiles,
            pskFile: z.string().optional(),
            /** Refuse clients that do not start TLS. */
            require: z.boolean().default(true),
          })
          .strict()
          .optional(),
        /** Which NBD clients may open which datastores' exports: a TLS identity (PSK identity or certificate CN) and its datastores (or `*`). Empty: every client that got through TLS. */
        nbdAccess: z.array(z.object({ identity: z.string().min(1), datastores: z.array(z.string().min(1)).min(1) }).strict()).default([]),
        /** How long a record that a chunk is in S3 (fetched, written or seen by Larder) is believed before a PUT of it is sent to S3 again. */
        knownChunkTtl: duration.default(7 * 24 * 3600_000),
        /** HTTP processes sharing `listen` (node:cluster) when the gateway runs as its own process; `auto`: one per CPU. */
        workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
      })
      .strict()
      .default({
        listen: '127.0.0.1:8780',
        nbdListen: '127.0.0.1:10809',
        requestTimeout: 20_000,
        fetchLivenessTimeout: 3000,
        touchFlushInterval: 1000,
        s3Listen: '127.0.0.1:8781',
        knownChunkTtl: 7 * 24 * 3600_000,
        allowOpen: false,
        nbdAccess: [],
        workers: 1,
      }),
    /** Bearer tokens of the HTTP routes and config changes; none: the gateway listens on loopback only and config changes are open to anyone on NATS. */
    tokens: z.array(tokenSchema).default([]),
    /** Keys that clients of the gateway's S3 endpoint sign with; none: every S3 request is refused. */
    accessKeys: z.array(accessKeySchema).default([]),
    s3: z
      .object({
        ...s3Connection,
        region: z.string().default('us-east-1'),
        pathStyle: z.boolean().default(true),
        embedded: z
          .object({ listen: listen.default('127.0.0.1:9000'), directory: z.string().default('.larder/s3') })
          .strict()
          .default({ listen: '127.0.0.1:9000', directory: '.larder/s3' }),
      })
      .strict()
      .default({ region: 'us-east-1', pathStyle: true, embedded: { listen: '127.0.0.1:9000', directory: '.larder/s3' } }),
    fetcher: z
      .object({
        concurrency: z.number().int().min(1).max(1024).default(128),
        inflightBytes: size.default(64 * 2 ** 20),
        timeout: duration.default(15_000),
        retries: z.number().int().min(0).max(10).default(3),
        backoff: duration.default(100),
      })
      .strict()
      .default({ concurrency: 128, inflightBytes: 64 * 2 ** 20, timeout: 15_000, retries: 3, backoff: 100 }),
    index: z
      .object({ evictInterval: duration.default(2000), reconcileInterval: duration.default(300_000), tempSweepInterval: duration.default(30_000) })
      .strict()
      .default({ evictInterval: 2000, reconcileInterval: 300_000, tempSweepInterval: 30_000 }),
    images: z
      .object({
        decodedCacheSize: size.default(256 * 2 ** 20),
        /** Decoded copies of compressed chunks kept on the volume (beside the chunk cache) for warm image reads; 0 turns them off. */
        decodedSpillSize: size.default(2 * 2 ** 30),
        readahead: z.number().int().min(0).max(256).default(16),
        indexTtl: duration.default(60_000),
        /** Memory for the digest → position map behind readahead on the chunk routes (about 70 bytes per chunk of an index); 0 turns that readahead off. */
        indexMapSize: size.default(64 * 2 ** 20),
      })
      .strict()
      .default({ decodedCacheSize: 256 * 2 ** 20, decodedSpillSize: 2 * 2 ** 30, readahead: 16, indexTtl: 60_000, indexMapSize: 64 * 2 ** 20 }),
    /**
     * S3 list prices the status estimates cost and savings from (defaults: AWS S3 Standard, us-east-1). GET-class: GET,
     * HEAD; PUT-class: PUT, POST (copy, multipart), LIST; DELETE: its own price (free on AWS); egress: bytes downloaded.
     */
    prices: z
      .object({
        getPer1000: price.default(0.0004),
        putPer1000: price.default(0.005),
        deletePer1000: price.default(0),
        egressPerGiB: price.default(0.09),
        currency: z
          .string()
          .regex(/^[A-Z]{3}$/, 'a three-letter currency code, e.g. USD')
          .default('USD'),
      })
      .strict()
      .default({ getPer1000: 0.0004, putPer1000: 0.005, deletePer1000: 0, egressPerGiB: 0.09, currency: 'USD' }),
    /** S3 request budgets datastores name in `budget`. */
    budgets: z.record(name, budgetSchema).default({}),
    /** The GC worker: mark every index, sweep unreferenced chunks from the cache and from owned datastores in S3. */
    gc: z
      .object({
        /** An unreferenced chunk in S3 is deleted only when it and Larder's last touch of it are older than this (PBS: 24h5m). */
        grace: duration.default(24 * 3600_000 + 5 * 60_000),
        /** Where the mark phase keeps its sorted digest files. */
        workDir: z.string().default('.larder/gc'),
        /** A datastore's GC lease: a worker that dies mid-run holds the datastore at most this long (renewed every third). */
        lease: duration.pipe(z.number().min(1000, { message: 'must be at least 1s' })).default(30_000),
        /** The lease of the chunks a run claims for deletion: a dead run's claims keep those chunks at most this long. */
        claimLease: duration.pipe(z.number().min(1000, { message: 'must be at least 1s' })).default(60_000),
      })
      .strict()
      .default({ grace: 24 * 3600_000 + 5 * 60_000, workDir: '.larder/gc', lease: 30_000, claimLease: 60_000 }),
    telemetry: z.object({ otlpEndpoint: z.string().url().optional() }).strict().default({}),
    /** Where each service run as its own process serves `/metrics` (`false`: not at all); the gateway serves it on its own port. */
    metrics: z
      .object({
        fetcherListen: z.union([listen, z.literal(false)]).default('127.0.0.1:9466'),
        indexListen: z.union([listen, z.literal(false)]).default('127.0.0.1:9467'),
        configListen: z.union([listen, z.literal(false)]).default('127.0.0.1:9468'),
        gcListen: z.union([listen, z.literal(false)]).default('127.0.0.1:9469'),
      })
      .strict()
      .default({ fetcherListen: '127.0.0.1:9466', indexListen: '127.0.0.1:9467', configListen: '127.0.0.1:9468', gcListen: '127.0.0.1:9469' }),
    datastores: z.record(name, datastoreSchema).default({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [dsName, ds] of Object.entries(cfg.datastores))
      if (ds.budget !== undefined && !(ds.budget in cfg.budgets))
        ctx.addIssue({ code: 'custom', path: ['datastores', dsName, 'budget'], message: `no budget named ${ds.budget} in budgets` });
    // A client bucket of the S3 endpoint is one upstream bucket: the datastores answering to it must agree on where that is.
    const first = new Map<string, [string, string]>();
    for (const [dsName, ds] of Object.entries(cfg.datastores)) {
      const bucket = clientBucketOf(dsName, ds);
      if (bucket === undefined) continue;
      const where = JSON.stringify([ds.bucket, ds.endpoint, ds.region, ds.pathStyle, ds.accessKeyId, ds.secretAccessKey]);
      const seen = first.get(bucket);
      if (!seen) first.set(bucket, [dsName, where]);
      else if (seen[1] !== where)
        ctx.addIssue({
          code: 'custom',
          path: ['datastores', dsName, 'clientBucket'],
          message: `client bucket ${bucket} is also datastore ${seen[0]}'s, in another S3 bucket or connection: datastores sharing a client bucket must share bucket, endpoint, region, pathStyle and keys`,
        });
    }
  });

/** The configuration file as written (sizes and durations still as text). */
export type ConfigInput = z.input<typeof configSchema>;
