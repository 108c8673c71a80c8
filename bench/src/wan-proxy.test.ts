import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startWanProxy } from './wan-proxy.js';
import type { WanProxy } from './wan-proxy.js';
import { MiB } from './units.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A TCP server that answers each connection's request bytes with `respond(request)` once the client half-closes. */
async function startServer(respond: (req: Buffer) => Buffer): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    const parts: Buffer[] = [];
    s.on('data', (b: Buffer) => parts.push(b));
    s.on('end', () => s.end(respond(Buffer.concat(parts))));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** Send `body`, half-close, and collect the whole answer. */
function exchange(port: number, body: Buffer, opts: { pauseMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const parts: Buffer[] = [];
    c.on('data', (b: Buffer) => parts.push(b));
    c.on('end', () => {
      c.end();
      resolve(Buffer.concat(parts));
    });
    c.on('error', reject);
    c.end(body);
    if (opts.pauseMs) {
      c.pause();
      setTimeout(() => c.resume(), opts.pauseMs);
    }
  });
}

describe('startWanProxy', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });
  const setup = async (respond: (req: Buffer) => Buffer, latencyMs: number, bandwidth: number): Promise<WanProxy> => {
    const srv = await startServer(respond);
    cleanups.push(() => srv.close());
    const proxy = await startWanProxy({ target: { host: '127.0.0.1', port: srv.port }, latencyMs, bandwidthBytesPerSec: bandwidth });
    cleanups.push(() => proxy.stop());
    return proxy;
  };

  it('forwards every byte, in order, both ways, on many connections at once', async () => {
    const reply = (req: Buffer) => Buffer.concat([Buffer.from(sha(req)), req, req]);
    const proxy = await setup(reply, 2, 256 * MiB);
    const bodies = Array.from({ length: 8 }, (_, i) => randomBytes(300_000 + i * 77_777));
    const answers = await Promise.all(bodies.map((b) => exchange(proxy.port, b)));
    answers.forEach((a, i) => {
      const b = bodies[i] as Buffer;
      expect(a.length).toBe(64 + 2 * b.length);
      expect(a.subarray(0, 64).toString()).toBe(sha(b));
      expect(sha(a.subarray(64))).toBe(sha(Buffer.concat([b, b])));
    });
    expect(proxy.stats.connections).toBe(8);
    expect(proxy.stats.bytesUp).toBe(bodies.reduce((n, b) => n + b.length, 0));
  });

  it('keeps what it holds for a slow reader bounded (back-pressure)', async () => {
    const big = randomBytes(24 * MiB);
    const proxy = await setup(() => big, 1, 512 * MiB);
    const got = await exchange(proxy.port, Buffer.from('go'), { pauseMs: 300 });
    expect(sha(got)).toBe(sha(big));
    // High-water mark (1 MiB at least, bandwidth × (latency + 20 ms)) plus one read chunk.
    expect(proxy.stats.maxQueuedBytes).toBeLessThan(16 * MiB);
  });

  it('is no faster than its link (loose lower bounds only)', async () => {
    const payload = randomBytes(4 * MiB);
    const proxy = await setup(() => payload, 10, 16 * MiB);
    const t = performance.now();
    const got = await exchange(proxy.port, Buffer.from('x'));
    const ms = performance.now() - t;
    expect(got.equals(payload)).toBe(true);
    // 4 MiB at 16 MiB/s is 250 ms; plus handshake and two one-way delays.
    expect(ms).toBeGreaterThan(150);
    expect(proxy.link).toEqual({ latencyMs: 10, bandwidthBytesPerSec: 16 * MiB, handshakeMs: 20 });
  });

  it('delays each request/response round trip by at least two one-way latencies', async () => {
    const proxy = await setup((req) => req, 25, 64 * MiB);
    const t = performance.now();
    await exchange(proxy.port, Buffer.from('ping'));
    // handshake (50) + request (25) + answer (25).
    expect(performance.now() - t).toBeGreaterThanOrEqual(95);
  });

  it('rejects a nonsensical link', async () => {
    await expect(startWanProxy({ target: { host: '127.0.0.1', port: 1 }, bandwidthBytesPerSec: 0 })).rejects.toThrow(/invalid/);
  });
});
