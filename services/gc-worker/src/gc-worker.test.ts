import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BusError, checkReply, decodeJson, encodeJson, subjects, type GcReport, type GcRunReply, type GcStatus, type NatsConnection } from '@larder/bus';
import { parseConfig, type Config } from '@larder/config';
import { registry } from '@larder/metrics';
import { createRedis } from '@larder/redis';
import { connectNodeDeps, type NodeDeps } from '@larder/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcWorker, type GcWorker } from './gc-service.js';
import { StandInEngine } from './test-engine.js';

const ns = `t${randomBytes(5).toString('hex')}`;
const subj = subjects(ns);
let dir: string;
let config: Config;
const deps: NodeDeps[] = [];
const workers: GcWorker[] = [];
const children: ChildProcess[] = [];

function makeConfig(datastores: Record<string, object>): Config {
  return parseConfig({
    namespace: ns,
    volume: { path: path.join(dir, 'volume') },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    datastores,
  });
}

async function worker(engine: StandInEngine, opts: { config?: () => Config; leaseMs?: number; scheduleCheckMs?: number } = {}): Promise<GcWorker> {
  const d = await connectNodeDeps(config, `gc-test-${deps.length}`);
  deps.push(d);
  const w = await startGcWorker({ ...d, config: opts.config ?? (() => config), engine, leaseMs: opts.leaseMs ?? 3000, scheduleCheckMs: opts.scheduleCheckMs ?? 3_600_000 });
  workers.push(w);
  return w;
}

async function request<T>(nc: NatsConnection, subject: string, body: object, timeout = 10_000): Promise<T> {
  return decodeJson<T>(checkReply(await nc.request(subject, encodeJson(body), { timeout })).data);
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const status = (nc: NatsConnection) => request<GcStatus>(nc, subj.gcStatus, {});

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), `larder-gc-${ns}-`));
  config = makeConfig({ a: { layout: 'pbs', bucket: `${ns}-a`, owned: true }, b: { layout: 'casync', bucket: `${ns}-b` } });
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const w of workers) await w.stop();
  for (const d of deps) await d.close();
  const redis = createRedis({ url: config.redis.url });
  const keys = await redis.keys(`{${ns}}:*`);
  if (keys.length) await redis.unlink(...keys);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('gc-worker over NATS', () => {
  it('runs one datastore on request, publishes its phases, and keeps its last report', async () => {
    const engine = new StandInEngine();
    await worker(engine);
    const nc = deps[0]!.nc;
    const seen: GcReport[] = [];
    const sub = nc.subscribe(subj.gcProgress, { callback: (_e, m) => void seen.push(decodeJson<GcReport>(m.data)) });
    const reply = await request<GcRunReply>(nc, subj.gcRun, { store: 'a', wait: true });
    sub.unsubscribe();
    expect(reply.refused).toEqual([]);
    const [r] = reply.runs;
    expect(r).toMatchObject({ store: 'a', apply: false, phase: 'done', cacheChunks: 7, s3Chunks: 5, worker: workers[0]!.id });
    expect(r!.finishedAt).toBeGreaterThanOrEqual(r!.startedAt);
    const phases = [...new Set(seen.filter((e) => e.runId === r!.runId).map((e) => e.phase))];
    expect(phases).toEqual(['queued', 'listing', 'mark', 'sweep-cache', 'sweep-s3', 'verify', 'done']);
    const s = await status(nc);
    expect(s.running).toEqual([]);
    expect(s.last.find((l) => l.store === 'a')).toMatchObject({ runId: r!.runId, phase: 'done' });
    // A dry run reclaims nothing; the run is counted.
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/larder_gc_runs_total\{store="a",result="done"[^}]*\} 1/);
    expect(metrics).not.toMatch(/larder_gc_reclaimed_chunks_total\{store="a"/);
  });

  it('runs every datastore one after the other, shows them running, and cancels them', async () => {
    const engine = new StandInEngine();
    engine.hold('a');
    const nc = deps[0]!.nc;
    const w = workers[0]!;
    // The first worker's engine is the one of the first test; this one takes the requests from here on.
    await w.stop();
    const w2 = await worker(engine);
    const reply = await request<GcRunReply>(nc, subj.gcRun, { apply: true });
    expect(reply.runs.map((r) => [r.store, r.phase, r.apply, r.worker])).toEqual([
      ['a', 'queued', true, w2.id],
      ['b', 'queued', true, w2.id],
    ]);
    const running = await until('a in mark, b queued', async () => {
      const s = await status(nc);
      return s.running.find((r) => r.store === 'a')?.phase === 'mark' && s.running.find((r) => r.store === 'b')?.phase === 'queued' && s;
    });
    expect(running.running).toHaveLength(2);
    // A second request for a running datastore is refused with who runs it.
    const again = nc.request(subj.gcRun, encodeJson({ store: 'a' }), { timeout: 5000 }).then(checkReply);
    await expect(again).rejects.toThrow(new RegExp(`already running on ${w2.id}`));
    await expect(again).rejects.toBeInstanceOf(BusError);
    const cancelled = await request<{ cancelled: { store: string }[] }>(nc, subj.gcCancel, {});
    expect(cancelled.cancelled.map((c) => c.store).sort()).toEqual(['a', 'b']);
    const s = await until('both cancelled', async () => {
      const st = await status(nc);
      return st.running.length === 0 && st;
    });
    expect(s.last.filter((l) => reply.runs.some((r) => r.runId === l.runId)).map((l) => [l.store, l.phase])).toEqual([
      ['a', 'cancelled'],
      ['b', 'cancelled'],
    ]);
    // b never reached the engine: cancelled while queued.
    expect(engine.started.map((s) => s.store)).toEqual(['a']);
    await w2.stop();
  });

  it('answers bad requests and unknown datastores with clear errors', async () => {
    const w = await worker(new StandInEngine());
    const nc = deps[0]!.nc;
    const ask = (subject: string, body: unknown) => nc.request(subject, encodeJson(body), { timeout: 5000 }).then(checkReply);
    await expect(ask(subj.gcRun, { store: 'nope' })).rejects.toThrow(/no datastore named nope/);
    await expect(ask(subj.gcRun, { apply: 'yes' })).rejects.toThrow(/"apply" and "wait" must be true or false/);
    await expect(ask(subj.gcCancel, { store: 7 })).rejects.toThrow(/"store" must be a datastore name/);
    await expect(ask(subj.gcCancel, { store: 'a' }).then((m) => decodeJson(m.data))).resolves.toEqual({ cancelled: [] });
    await w.stop();
  });
});

describe('several gc-workers', () => {
  it('run a datastore on one worker at a time; a cancel reaches the worker that runs it', async () => {
    const e1 = new StandInEngine();
    const e2 = new StandInEngine();
    e1.hold('a');
    e2.hold('a');
    const w1 = await worker(e1);
    const w2 = await worker(e2);
    const first = await w1.run({ store: 'a' });
    expect(first.runs).toHaveLength(1);
    const second = await w2.run({ store: 'a' });
    expect(second.runs).toEqual([]);
    expect(second.refused[0]?.reason).toBe(`already running on ${w1.id} (run ${first.runs[0]!.runId})`);
    // Many requests at once over NATS, spread over the workers: none starts a second run of `a`.
    const nc = deps[0]!.nc;
    const replies = await Promise.allSettled(Array.from({ length: 6 }, () => nc.request(subj.gcRun, encodeJson({ store: 'a' }), { timeout: 5000 }).then(checkReply)));
    expect(replies.every((r) => r.status === 'rejected' && /already running on/.test(String(r.reason)))).toBe(true);
    expect(e2.started).toEqual([]);
    // w2 cancels the run w1 holds: through Redis, seen by w1 within a second.
    const c = await w2.cancel({ store: 'a' });
    expect(c.cancelled).toEqual([{ store: 'a', runId: first.runs[0]!.runId, worker: w1.id }]);
    await until('w1 to end its run', async () => (await w1.status()).running.length === 0);
    expect((await w2.status()).last.find((l) => l.store === 'a')).toMatchObject({ runId: first.runs[0]!.runId, phase: 'cancelled' });
    // Now w2 may run it.
    e2.release('a');
    const third = await w2.run({ store: 'a', wait: true });
    expect(third.runs[0]).toMatchObject({ phase: 'done', worker: w2.id });
    await w1.stop();
    await w2.stop();
  });

  it('a worker killed mid-run: its lease expires, its run is reported abandoned, and the next run proceeds', async () => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./test-worker-child.mjs', import.meta.url)), JSON.stringify(config), '1000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LARDER_LOG_LEVEL: 'warn' },
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const childId = await until('the child worker', () => /ready (\S+)/.exec(out)?.[1]);
    // The only worker in the queue group: it takes the request, and holds b in its mark phase until it dies.
    const taken = await request<GcRunReply>(deps[0]!.nc, subj.gcRun, { store: 'b' });
    expect(taken.runs[0]).toMatchObject({ store: 'b', worker: childId });
    const w = await worker(new StandInEngine(), { leaseMs: 1000 });
    await until('the child to be in mark', async () => (await w.status()).running.some((r) => r.store === 'b' && r.worker === childId && r.phase === 'mark'));
    expect((await w.run({ store: 'b' })).refused[0]?.reason).toMatch(new RegExp(`already running on ${childId}`));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // While the lease lasts, b is refused; after it, the run record shows as abandoned and a new run begins cleanly.
    const s = await until('the lease to expire', async () => {
      const st = await w.status();
      return st.running.length === 0 && st;
    });
    expect(s.last.find((l) => l.store === 'b')).toMatchObject({ phase: 'failed', worker: childId, error: expect.stringMatching(/abandoned in phase mark/) });
    const next = await w.run({ store: 'b', wait: true });
    expect(next.runs[0]).toMatchObject({ phase: 'done', worker: w.id });
    expect(await registry.metrics()).toMatch(/larder_gc_runs_total\{store="b",result="abandoned"[^}]*\} 1/);
    await w.stop();
  });
});

describe('the schedule', () => {
  it('runs an applied GC when the last applied run is older than gcEvery, following config changes, on one worker', async () => {
    let current = config;
    const e1 = new StandInEngine();
    const e2 = new StandInEngine();
    const opts = { config: () => current, scheduleCheckMs: 50 };
    const w1 = await worker(e1, opts);
    const w2 = await worker(e2, opts);
    await new Promise((r) => setTimeout(r, 300));
    expect([...e1.started, ...e2.started]).toEqual([]);
    // gcEvery set on a (applied in an earlier test, less than 1h ago: not due) and on c (never applied: due).
    current = makeConfig({ ...config.datastores, a: { ...config.datastores.a, gcEvery: '1h' }, c: { layout: 'pbs', bucket: `${ns}-c`, gcEvery: '1h' } });
    const started = await until('a scheduled run of c', () => [...e1.started, ...e2.started].find((s) => s.store === 'c'));
    expect(started.apply).toBe(true);
    await until('it to end', async () => (await w1.status()).last.find((l) => l.runId === started.runId)?.phase === 'done');
    await new Promise((r) => setTimeout(r, 300));
    // Once: the other worker saw the applied run and did not start its own; a was not due.
    expect([...e1.started, ...e2.started]).toEqual([started]);
    await w1.stop();
    await w2.stop();
  });
});
