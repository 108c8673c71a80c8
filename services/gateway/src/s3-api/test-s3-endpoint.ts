import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { parseConfig, resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { destroyS3Clients, ensureBucket, s3ClientFor } from '@larder/s3';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import type { Authenticator } from './s3-auth.js';
import type { ChunkObjects } from './chunk-objects.js';
import { startS3Server, type S3Server } from './s3-server.js';

export const KEYS = {
  rw: { accessKeyId: 'test-rw', secretAccessKey: 'test-rw-secret' },
  ro: { accessKeyId: 'test-ro', secretAccessKey: 'test-ro-secret' },
  other: { accessKeyId: 'test-other', secretAccessKey: 'test-other-secret' },
};

/** An S3 endpoint in front of its own s3rver: datastores `demo` (pbs, prefix `pfx/store`) and `cas` (casync, no prefix). */
export interface S3EndpointEnv {
  url: string;
  config: Config;
  s3: EmbeddedS3;
  server: S3Server;
  ds(name: string): ResolvedDatastore;
  /** A client of the endpoint with one of KEYS (or any credentials). */
  client(creds?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  /** A client of the upstream s3rver with the datastores' own credentials. */
  upstream(): S3Client;
  stop(): Promise<void>;
}

/** Requests are verified with real SigV4 (unless `authenticate` says otherwise). */
export async function startS3EndpointEnv(opts: { authenticate?: Authenticator; chunkObjects?: ChunkObjects; budget?: Record<string, unknown> } = {}): Promise<S3EndpointEnv> {
  const ns = `s3e${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(path.join(tmpdir(), `larder-${ns}-`));
  const s3 = await startEmbeddedS3({ directory: path.join(dir, 's3'), host: '127.0.0.1', port: 0 });
  const config = parseConfig({
    namespace: ns,
    volume: { path: path.join(dir, 'volume') },
    s3: { endpoint: s3.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    datastores: {
      // `budget`: the upstream requests of `demo` count against request budget `up` with these settings.
      demo: { layout: 'pbs', bucket: `${ns}-up`, prefix: 'pfx/store', clientBucket: 'demo', ...(opts.budget ? { budget: 'up' } : {}) },
      cas: { layout: 'casync', bucket: `${ns}-cas`, clientBucket: 'cas' },
    },
    ...(opts.budget ? { budgets: { up: opts.budget } } : {}),
    accessKeys: [
      { ...KEYS.rw, buckets: ['*'], access: 'read-write' },
      { ...KEYS.ro, buckets: ['demo'], access: 'read' },
      { ...KEYS.other, buckets: ['cas'], access: 'read-write' },
    ],
  });
  const ds = (name: string) => {
    const d = resolveDatastore(config, name);
    if (!d) throw new Error(`no datastore ${name}`);
    return d;
  };
  for (const name of ['demo', 'cas']) await ensureBucket(s3ClientFor(ds(name)), ds(name).bucket);
  const server = await startS3Server({ config: () => config, listen: '127.0.0.1:0', authenticate: opts.authenticate, chunkObjects: opts.chunkObjects });
  const clients: S3Client[] = [];
  return {
    url: server.url,
    config,
    s3,
    server,
    ds,
    client: (creds = KEYS.rw) => {
      const c = new S3Client({
        endpoint: server.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: creds,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    upstream: () => s3ClientFor(ds('demo')),
    stop: async () => {
      clients.forEach((c) => c.destroy());
      destroyS3Clients();
      await server.stop();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
