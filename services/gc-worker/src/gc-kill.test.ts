// kill -9 of a real gc-worker process (dist/main.js) in the middle of its S3 sweep; the next worker finishes cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkReply, connectBus, busOptionsFrom, decodeJson, encodeJson, subjects, type GcReport, type GcRunReply, type GcStatus, type NatsConnection } from '@larder/bus';
import { parseConfig, resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { writeFixedIndex } from '@larder/formats';
import { createRedis, type Redis } from '@larder/redis';
import { chunkObjectKey, destroyS3Clients, indexObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listChunkPages } from './chunk-listing.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const BUCKET = 'gc-kill';
const STORE = 'k';
const HOUR = 3600_000;
/** md5 of the empty body, which s3rver keeps beside each object. */
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

const ns = `tgk${randomBytes(5).toString('hex')}`;
const subj = subjects(ns);
let dir: string;
let s3: EmbeddedS3;
let config: Config;
let configFile: string;
let ds: ResolvedDatastore;
let nc: NatsConnection;
let redis: Redis;
const children: ChildProcess[] = [];

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function request<T>(subject: string, body: object, timeout = 5000): Promise<T> {
  return decodeJson<T>(checkReply(await nc.request(subject, encodeJson(body), { timeout })).data);
}

/** A gc-worker process on the test's config file; resolves once it answers `gcStatus`. */
async function startWorker(): Promise<ChildProcess> {
  const c = spawn(process.execPath, [MAIN], { env: { ...process.env, LARDER_CONFIG: configFile, LARDER_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  let err = '';
  c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await until(
    'the gc-worker to answer',
    async () => {
      if (c.exitCode !== null) throw new Error(`gc-worker exited (${c.exitCode}): ${err}`);
      return request<GcStatus>(subj.gcStatus, {}, 500).catch(() => undefined);
    },
    20_000,
  );
  return c;
}

/** Chunk objects written into s3rver's store (empty body, its md5 file, LastModified = mtime): faster than thousands of PUTs. */
async function writeChunks(digests: string[], ageMs: number): Promise<void> {
  const t = new Date(Date.now() - ageMs);
  for (const d of digests) {
    const file = path.join(dir, 's3', BUCKET, `${chunkObjectKey(ds, d)}._S3rver_object`);
    await mkdir(path.dirname(file), { recursive: true });
    await (await open(file, 'w')).close();
    await writeFile(`${file}.md5`, EMPTY_MD5);
    if (ageMs) await utimes(file, t, t);
  }
}

async function s3Chunks(): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const page of listChunkPages(s3ClientFor(ds), ds, { timeoutMs: 10_000, retries: 2, backoffMs: 50 })) for (const o of page) out.add(o.digest);
  return out;
}

const digests = (n: number) => Array.from({ length: n }, () => randomBytes(32).toString('hex'));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  s3 = await startEmbeddedS3({ directory: path.join(dir, 's3'), port: 0, buckets: [BUCKET] });
  config = parseConfig({
    namespace: ns,
    volume: { path: path.join(dir, 'volume'), fsync: false },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    s3: { endpoint: s3.endpoint, pathStyle: true },
    fetcher: { timeout: '10s', retries: 2, backoff: '50ms' },
    // Short leases: the dead worker's datastore lease and its claims lapse within seconds.
    gc: { grace: '1h', workDir: path.join(dir, 'gc'), lease: '2s', claimLease: '2s' },
    metrics: { gcListen: false },
    datastores: { [STORE]: { layout: 'pbs', bucket: BUCKET, prefix: STORE, owned: true } },
  });
  ds = resolveDatastore(config, STORE) as ResolvedDatastore;
  configFile = path.join(dir, 'larder.yaml');
  // JSON is YAML.
  await writeFile(configFile, JSON.stringify(config));
  nc = await connectBus(busOptionsFrom(config, `${ns}-test`));
  redis = createRedis({ url: config.redis.url });
}, 30_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  const keys = await redis.keys(`{${ns}}:*`);
  if (keys.length) await redis.unlink(...keys);
  redis.disconnect();
  await nc?.close();
  destroyS3Clients();
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('gc-worker process killed with SIGKILL mid-sweep', () => {
  it('the next worker reports the dead run abandoned, runs again to done, and every referenced chunk is in S3', async () => {
    // 300 referenced chunks in 3 overlapping indexes, 3,000 unreferenced ones past the grace, 20 fresh ones: 4 LIST pages.
    const referenced = digests(300);
    const garbage = digests(3000);
    const fresh = digests(20);
    await writeChunks([...referenced, ...garbage], 2 * HOUR);
    await writeChunks(fresh, 0);
    const client = s3ClientFor(ds);
    for (let i = 0; i < 3; i++) {
      const raw = referenced.slice(i * 75, i * 75 + 150).map((h) => Buffer.from(h, 'hex'));
      await putObjectBytes(
        client,
        BUCKET,
        indexObjectKey(ds, `vm/100/snap-${i}/drive-scsi0.img.fidx`),
        writeFixedIndex({ size: raw.length * 4096, chunkSize: 4096, digests: raw }),
      );
    }
    // The store's touch record has existed for longer than the grace.
    await redis.set(`{${ns}}:gc:epoch:${STORE}`, String(Date.now() - 2 * HOUR));

    const first = await startWorker();
    const seen: GcReport[] = [];
    const sub = nc.subscribe(subj.gcProgress, { callback: (_e, m) => void seen.push(decodeJson<GcReport>(m.data)) });
    // Every S3 request takes 300 ms more: the sweep (4 LIST pages, a DeleteObjects per page) takes seconds.
    s3.setFault({ delayMs: 300 });
    const taken = await request<GcRunReply>(subj.gcRun, { store: STORE, apply: true });
    const runId = taken.runs[0]?.runId;
    expect(runId).toBeDefined();
    // Killed once part of S3 is swept and the next batch is claimed (its DeleteObjects outstanding).
    await until(
      'the first run to be part-way through its S3 sweep',
      async () => seen.some((r) => r.runId === runId && r.phase === 'sweep-s3' && r.s3Chunks > 0) && (await redis.hlen(`{${ns}}:gc:claims:${STORE}`)) > 0,
      60_000,
    );
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await exited;
    sub.unsubscribe();
    s3.setFault(undefined);
    expect(seen.some((r) => r.runId === runId && ['done', 'failed', 'cancelled'].includes(r.phase))).toBe(false);
    const partly = await s3Chunks();
    expect(garbage.filter((d) => partly.has(d)).length).toBeGreaterThan(0);
    expect(garbage.filter((d) => !partly.has(d)).length).toBeGreaterThan(0);

    await startWorker();
    // Once the dead worker's lease lapses, its run shows as abandoned in the sweep.
    const status = await until('the dead run to be reported abandoned', async () => {
      const s = await request<GcStatus>(subj.gcStatus, {});
      return s.running.length === 0 && s.last.find((l) => l.runId === runId) && s;
    });
    expect(status.last.find((l) => l.store === STORE)).toMatchObject({ runId, phase: 'failed', error: expect.stringMatching(/abandoned in phase sweep-s3/) });
    // The dead run's claims lapse with their lease (2 s): then the new run may delete those chunks too.
    await until('the dead run claims to lapse', async () => {
      const claims = await redis.hgetall(`{${ns}}:gc:claims:${STORE}`);
      const now = Number((await redis.time())[0]) * 1000;
      return Object.values(claims).every((v) => Number(v.split(':')[0]) < now);
    });
    await new Promise((r) => setTimeout(r, 1100));
    const again = await request<GcRunReply>(subj.gcRun, { store: STORE, apply: true, wait: true }, 60_000);
    // `done` after an applied S3 sweep includes the engine's own verification pass (every indexed chunk listed).
    expect(again.runs[0]).toMatchObject({ store: STORE, phase: 'done', keptByGrace: 20, keptByTouch: 0 });
    expect(again.runs[0]?.error).toBeUndefined();
    const after = await s3Chunks();
    expect(referenced.filter((d) => !after.has(d))).toEqual([]);
    expect(fresh.filter((d) => !after.has(d))).toEqual([]);
    expect(garbage.filter((d) => after.has(d))).toEqual([]);
    expect(after.size).toBe(referenced.length + fresh.length);
  }, 150_000);
});
