// Test helpers (excluded from the build): a node on the shared Redis and NATS in a namespace of its own, an embedded S3
// in a temp folder, and the GC engine with the real ChunkTouches fence.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { GcReport } from '@larder/bus';
import { parseConfig, resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { writeCaibx, writeFixedIndex } from '@larder/formats';
import { ChunkTouches } from '@larder/redis';
import { chunkObjectKey, indexObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { connectNodeDeps, type NodeDeps } from '@larder/service-kit';
import { chunkKey } from '@larder/volume';
import { listChunkPages } from './chunk-listing.js';
import { createGcEngine } from './gc-engine.js';
import type { GcEngine } from './gc-types.js';

export const HOUR = 3600_000;
export const BUCKET = 'gc-test';

export interface GcTestBed {
  config: Config;
  deps: NodeDeps;
  s3: EmbeddedS3;
  fence: ChunkTouches;
  engine: GcEngine;
  ds(store: string): ResolvedDatastore;
  /** Upload a chunk object with a random digest (or `digest`); `ageMs` back-dates its LastModified. */
  putChunk(store: string, opts?: { digest?: string; ageMs?: number }): Promise<string>;
  /** Back-date a chunk object's LastModified. */
  ageChunk(store: string, digest: string, ageMs: number): Promise<void>;
  /** Upload an index referencing `digests` (`.fidx` for pbs, `.caibx` for casync). */
  putIndex(store: string, name: string, digests: string[]): Promise<void>;
  /** Put a chunk into the cache (file and index). */
  cacheChunk(store: string, digest: string): Promise<void>;
  /** Digests of the chunk objects in S3. */
  s3Chunks(store: string): Promise<string[]>;
  /** Digests of the store's chunks in the cache index. */
  cachedChunks(store: string): Promise<string[]>;
  /** Make the store's touch record look as old as `ageMs` (as if Redis had kept it that long). */
  ageTouchRecord(store: string, ageMs: number): Promise<void>;
  run(store: string, opts?: { apply?: boolean; signal?: AbortSignal; onProgress?: (r: GcReport) => void }): Promise<GcReport>;
  close(): Promise<void>;
}

export function randomDigest(): string {
  return randomBytes(32).toString('hex');
}

/** A test bed whose datastores all live in one bucket; `grace` is gc.grace. */
export async function openGcTestBed(datastores: Record<string, { layout: 'pbs' | 'casync' | 'restic'; owned?: boolean; prefix?: string }>, grace = '1h'): Promise<GcTestBed> {
  const ns = `tgc${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  const s3Dir = path.join(dir, 's3');
  const s3 = await startEmbeddedS3({ directory: s3Dir, port: 0, buckets: [BUCKET] });
  const config = parseConfig({
    namespace: ns,
    capacity: 1 << 30,
    volume: { path: path.join(dir, 'volume'), fsync: false },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    s3: { endpoint: s3.endpoint, pathStyle: true },
    fetcher: { timeout: '3s', retries: 1, backoff: '50ms' },
    gc: { grace, workDir: path.join(dir, 'gc') },
    datastores: Object.fromEntries(Object.entries(datastores).map(([name, d]) => [name, { bucket: BUCKET, prefix: d.prefix ?? name, ...d }])),
  });
  const deps = await connectNodeDeps(config, 'gc-test');
  const fence = new ChunkTouches(deps.redis, ns, { writerTtlMs: 3000 });
  const engine = createGcEngine({ ...deps, config: () => config, fence, runBytes: 64 * 32, claimLeaseMs: 3000 });
  const ds = (store: string) => resolveDatastore(config, store) as ResolvedDatastore;
  const client = () => s3ClientFor(ds(Object.keys(datastores)[0] as string));

  // s3rver answers LastModified from the object file's mtime, and may answer a PUT before its file write landed: wait
  // for the whole body (when its size is known), then back-date it.
  const ageObject = async (key: string, size: number | undefined, ageMs: number) => {
    const t = new Date(Date.now() - ageMs);
    const file = path.join(s3Dir, BUCKET, `${key}._S3rver_object`);
    for (let i = 0; i < 200; i++) {
      const st = await stat(file).catch(() => undefined);
      if (st && (size === undefined || st.size === size)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await utimes(file, t, t);
  };

  const bed: GcTestBed = {
    ageChunk: (store, digest, ageMs) => ageObject(chunkObjectKey(ds(store), digest), undefined, ageMs),
    config,
    deps,
    s3,
    fence,
    engine,
    ds,
    async putChunk(store, opts = {}) {
      const digest = opts.digest ?? randomDigest();
      const key = chunkObjectKey(ds(store), digest);
      const body = randomBytes(100);
      await putObjectBytes(client(), BUCKET, key, body);
      if (opts.ageMs) await ageObject(key, body.length, opts.ageMs);
      return digest;
    },
    async putIndex(store, name, digests) {
      const d = ds(store);
      const raw = digests.map((h) => Buffer.from(h, 'hex'));
      const bytes =
        d.layout === 'casync'
          ? writeCaibx({ entries: raw.map((digest, i) => ({ end: (i + 1) * 4096, digest })) })
          : writeFixedIndex({ size: Math.max(1, raw.length) * 4096, chunkSize: 4096, digests: raw });
      await putObjectBytes(client(), BUCKET, indexObjectKey(d, `${name}.${d.layout === 'casync' ? 'caibx' : 'fidx'}`), bytes);
    },
    async cacheChunk(store, digest) {
      const bytes = randomBytes(100);
      await deps.volume.writeChunk(store, digest, bytes);
      await deps.index.admit(chunkKey(store, digest), bytes.length);
    },
    async s3Chunks(store) {
      const out: string[] = [];
      for await (const page of listChunkPages(client(), ds(store), { timeoutMs: 5000, retries: 2, backoffMs: 50 })) out.push(...page.map((o) => o.digest));
      return out.sort();
    },
    async cachedChunks(store) {
      const out: string[] = [];
      for await (const page of deps.index.scan()) for (const c of page) if (c.key.startsWith(`${store}/`)) out.push(c.key.slice(store.length + 1));
      return out.sort();
    },
    async ageTouchRecord(store, ageMs) {
      // The record's epoch (ChunkTouches keeps it at `{ns}:gc:epoch:<store>`, set when first written).
      await deps.redis.set(`{${ns}}:gc:epoch:${store}`, String(Date.now() - ageMs));
    },
    run(store, opts = {}) {
      return engine.runDatastore(ds(store), {
        runId: randomUUID(),
        apply: opts.apply ?? true,
        signal: opts.signal ?? new AbortController().signal,
        onProgress: opts.onProgress ?? (() => {}),
      });
    },
    async close() {
      let cursor = '0';
      do {
        const [next, keys] = await deps.redis.scan(cursor, 'MATCH', `{${ns}}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await deps.redis.unlink(...keys);
      } while (cursor !== '0');
      await deps.close();
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return bed;
}
