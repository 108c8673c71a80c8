import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { Svcm, type ServiceMsg } from '@nats-io/services';
import { statusOf } from '@larder/errors';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeJson, encodeJson } from './codec.js';
import { connectBus } from './connect.js';
import { FetchClient } from './fetch-client.js';
import { FETCH_PROGRESS_HEADER, type FetchRequest } from './fetch-wire.js';
import { subjects } from './subjects.js';

const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const connections: NatsConnection[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  for (const nc of connections) await nc.close().catch(() => {});
});

async function conn(url = servers): Promise<NatsConnection> {
  const nc = await connectBus({ servers: url, name: 'fetch-client-test' });
  connections.push(nc);
  return nc;
}

/** A stand-in chunk-fetcher on the real bus: `handle` answers each request (or not); every request is recorded. */
async function standIn(nc: NatsConnection, ns: string, handle: (msg: ServiceMsg, n: number) => void): Promise<FetchRequest[]> {
  const got: FetchRequest[] = [];
  const svc = await new Svcm(nc).add({ name: subjects(ns).fetcherService, version: '0.0.1', queue: subjects(ns).fetcherService });
  svc.addEndpoint('fetch', {
    subject: subjects(ns).fetch,
    handler: (_err, msg) => {
      got.push(decodeJson<FetchRequest>(msg.data));
      handle(msg, got.length);
    },
  });
  cleanups.push(() => svc.stop());
  await nc.flush();
  return got;
}

function progress(msg: ServiceMsg): void {
  const h = headers();
  h.set(FETCH_PROGRESS_HEADER, 'working');
  msg.respond(new Uint8Array(0), { headers: h });
}

const ok = (msg: ServiceMsg) => msg.respond(encodeJson({ source: 's3', size: 7 }));
const ns = () => `fc${randomBytes(4).toString('hex')}`;
const digest = () => randomBytes(32).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (bounded) until `cond` holds. */
async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('FetchClient liveness', () => {
  it('re-sends a request whose fetcher went silent (its process died) to another fetcher, within the budget', async () => {
    const n = ns();
    const client = new FetchClient(await conn(), () => ({ namespace: n, timeoutMs: 15_000, livenessMs: 1000 }));
    // The first fetcher acknowledges, then its connection vanishes as with kill -9.
    const dying = await conn();
    let second: FetchRequest[] = [];
    const first = await standIn(dying, n, (msg) => {
      progress(msg);
      void dying.flush().then(async () => {
        second = await standIn(await conn(), n, ok);
        await dying.close();
      });
    });
    const d = digest();
    const t0 = Date.now();
    await expect(client.fetch('demo', d)).resolves.toEqual({ source: 's3', size: 7 });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(first.map((r) => r.digest)).toEqual([d]);
    expect(second.map((r) => r.digest)).toEqual([d]);
    expect(client.stats()).toMatchObject({ pending: 0, fetches: 1, resent: 1 });
    client.close();
  });

  it('waits without re-sending while the fetcher sends progress', async () => {
    const n = ns();
    const client = new FetchClient(await conn(), () => ({ namespace: n, timeoutMs: 15_000, livenessMs: 1500 }));
    const got = await standIn(await conn(), n, (msg) => {
      progress(msg);
      const beat = setInterval(() => progress(msg), 200);
      setTimeout(() => (clearInterval(beat), ok(msg)), 3000);
    });
    await expect(client.fetch('demo', digest())).resolves.toEqual({ source: 's3', size: 7 });
    expect(got).toHaveLength(1);
    expect(client.stats().resent).toBe(0);
    client.close();
  });

  it('asks a fetcher that sends no progress (an older one) again each liveness period, takes its reply, and ends with 504 within the budget when none comes', async () => {
    const n = ns();
    const client = new FetchClient(await conn(), () => ({ namespace: n, timeoutMs: 2500, livenessMs: 600 }));
    const slow = digest();
    const silent = digest();
    const firstOf = new Map<string, ServiceMsg>();
    const got = await standIn(await conn(), n, (msg) => {
      const req = decodeJson<FetchRequest>(msg.data);
      if (req.digest === slow && !firstOf.has(slow)) {
        firstOf.set(slow, msg);
        setTimeout(() => ok(msg), 1500);
      }
    });
    await expect(client.fetch('demo', slow)).resolves.toEqual({ source: 's3', size: 7 });
    expect(got.filter((r) => r.digest === slow).length).toBeGreaterThan(1);
    const t0 = Date.now();
    const err = await client.fetch('demo', silent).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(504);
    expect((err as Error).message).toMatch(/no answer in time/);
    expect(Date.now() - t0).toBeLessThan(2500 + 1000);
    // Bounded: one request per liveness period at most, not a loop.
    expect(got.filter((r) => r.digest === silent).length).toBeLessThanOrEqual(2500 / 600 + 1);
    client.close();
  });

  it('waits for a fetcher to start within the budget; answers 503 "no chunk-fetcher is running" when none does, then at once', async () => {
    const n = ns();
    const client = new FetchClient(await conn(), () => ({ namespace: n, timeoutMs: 2000, livenessMs: 1000 }));
    const t0 = Date.now();
    const err = await client.fetch('demo', digest()).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(503);
    expect((err as Error).message).toMatch(/no chunk-fetcher is running: no service is running to answer/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    // None for a whole budget already: the next miss is told at once.
    const t1 = Date.now();
    const again = await client.fetch('demo', digest()).catch((e: unknown) => e);
    expect(statusOf(again)).toBe(503);
    expect(Date.now() - t1).toBeLessThan(2000);

    // A fetcher that comes up while a miss waits answers it.
    const n2 = ns();
    const waiting = new FetchClient(await conn(), () => ({ namespace: n2, timeoutMs: 10_000, livenessMs: 1000 }));
    const pending = waiting.fetch('demo', digest());
    await sleep(700);
    const got = await standIn(await conn(), n2, ok);
    await expect(pending).resolves.toEqual({ source: 's3', size: 7 });
    expect(got).toHaveLength(1);
    client.close();
    waiting.close();
  });

  it('re-sends at once when NATS comes back, not after the liveness timeout', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-fetch-client-'));
    let nats: ChildProcess | undefined;
    const start = async () => {
      nats = spawn('nats-server', ['-p', String(port), '-a', '127.0.0.1', '-sd', dir], { stdio: 'ignore' });
      for (let i = 0; i < 200; i++) {
        const up = await new Promise<boolean>((resolve) => {
          const s = tcpConnect(port, '127.0.0.1', () => (s.destroy(), resolve(true))).on('error', () => resolve(false));
        });
        if (up) return;
        await sleep(50);
      }
      throw new Error('nats-server did not start');
    };
    const stop = async () => {
      const p = nats;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    };
    cleanups.push(async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    });
    await start();
    const url = `nats://127.0.0.1:${port}`;
    const n = ns();
    // The liveness timeout is longer than the whole test: only the reconnect can re-send.
    const client = new FetchClient(await conn(url), () => ({ namespace: n, timeoutMs: 30_000, livenessMs: 25_000 }));
    // The first request is lost with the server; the one after the restart is answered.
    const got = await standIn(await conn(url), n, (msg, i) => (i > 1 ? ok(msg) : undefined));
    const pending = client.fetch('demo', digest());
    await until('the first request', () => got.length === 1);
    await stop();
    await sleep(2000);
    const restarted = Date.now();
    await start();
    await expect(pending).resolves.toEqual({ source: 's3', size: 7 });
    expect(Date.now() - restarted).toBeLessThan(25_000);
    expect(got).toHaveLength(2);
    client.close();
  }, 60_000);
});
