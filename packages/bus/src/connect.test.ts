import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectBus, type BusStatusEvent } from './connect.js';

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once `port` accepts connections (bounded). */
async function listening(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1', () => (s.destroy(), resolve(true))).on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Our own nats-server (never the shared one: this test kills it). */
async function startNats(port: number, dir: string): Promise<ChildProcess> {
  const proc = spawn('nats-server', ['-p', String(port), '-a', '127.0.0.1', '-sd', dir], { stdio: 'ignore' });
  await listening(port);
  return proc;
}

async function kill(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}

/** Wait until `events` holds one of `type` (bounded). */
async function waitFor(events: BusStatusEvent[], type: BusStatusEvent['type'], timeoutMs = 15_000): Promise<BusStatusEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const e = events.find((x) => x.type === type);
    if (e) return e;
    if (Date.now() > deadline) throw new Error(`no ${type} event within ${timeoutMs} ms; got ${events.map((x) => x.type).join(', ') || 'none'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let dir: string;
let nats: ChildProcess | undefined;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bus-'));
});
afterAll(async () => {
  await kill(nats);
  await rm(dir, { recursive: true, force: true });
});

describe('connectBus', () => {
  it('logs a disconnect, one reconnecting and the reconnect (with the server and how long it was down) when NATS restarts', async () => {
    const port = await freePort();
    nats = await startNats(port, dir);
    const events: BusStatusEvent[] = [];
    const nc = await connectBus({ servers: `nats://127.0.0.1:${port}`, name: 'bus-test', onStatus: (e) => events.push(e) });
    const level = process.env.LARDER_LOG_LEVEL;
    process.env.LARDER_LOG_LEVEL = 'info';
    const lines: Record<string, unknown>[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (!text.includes('"component":"bus"')) return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      lines.push(JSON.parse(text) as Record<string, unknown>);
      return true;
    });
    try {
      await kill(nats);
      const down = await waitFor(events, 'disconnect');
      expect(down).toMatchObject({ connection: 'bus-test', server: `127.0.0.1:${port}` });
      await waitFor(events, 'reconnecting');
      await new Promise((r) => setTimeout(r, 1500)); // several dial attempts while the server is away
      nats = await startNats(port, dir);
      const back = await waitFor(events, 'reconnect');
      expect(back).toMatchObject({ connection: 'bus-test', server: `127.0.0.1:${port}` });
      expect(back.downMs).toBeGreaterThan(0);
      expect(back.attempts).toBeGreaterThan(1);
      // Once per event: one reconnecting line per outage, however many attempts it took.
      expect(events.map((e) => e.type)).toEqual(['disconnect', 'reconnecting', 'reconnect']);
      expect(lines.map((l) => [l.level, l.msg, l.connection, l.server])).toEqual([
        ['warn', 'NATS disconnected', 'bus-test', `127.0.0.1:${port}`],
        ['info', 'NATS reconnecting', 'bus-test', `127.0.0.1:${port}`],
        ['info', 'NATS reconnected', 'bus-test', `127.0.0.1:${port}`],
      ]);
      // And the connection works again.
      const sub = nc.subscribe('bus-test.ping', { max: 1 });
      nc.publish('bus-test.ping', 'x');
      for await (const m of sub) expect(m.string()).toBe('x');
    } finally {
      spy.mockRestore();
      process.env.LARDER_LOG_LEVEL = level;
      await nc.close();
    }
  }, 45_000);
});
