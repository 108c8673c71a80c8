/**
 * A stand-in for Larder used by the harness's own tests: it implements {@link LarderHook} with
 * nbdkit's file plugin (NBD) and a tiny in-process chunk server with single flight (HTTP), so that
 * every scenario's Larder branch runs before the real stack exists. Its figures mean nothing.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { SingleFlight } from '@larder/flight';
import type { ChunkedImage, ChunkRef } from './image-fixture.js';
import type { LarderHook, LarderStack, LarderStartOptions } from './larder-hook.js';
import { startNbdkit } from './nbdkit.js';
import type { Nbdkit } from './nbdkit.js';
import { objectUrl } from './s3-gets.js';
import { fetchBuffer } from './fetch-buffer.js';

/** Start the stand-in stack: one nbdkit file export per image, one chunk server with a memory cache. */
async function startFake(opts: LarderStartOptions): Promise<LarderStack> {
  const byStore = new Map<string, Map<string, ChunkRef>>();
  for (const img of opts.images) byStore.set(img.name, new Map(img.chunks.map((c) => [c.digest, c])));
  const cache = new Map<string, Buffer>();
  const fetches = new SingleFlight<Buffer>();
  const server = http.createServer((req, res) => {
    // Scenarios read counters from the status; the stand-in has none.
    if (req.url === '/v1/status') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chunkReadahead: null, hits: null, misses: null }));
    const m = /^\/v1\/stores\/([^/]+)\/chunks\/([0-9a-f]{64})$/.exec(req.url ?? '');
    let chunk = m ? byStore.get(decodeURIComponent(m[1] as string))?.get(m[2] as string) : undefined;
    // casync's store route for a scenario's extra casync datastores: the object under the datastore's prefix.
    const c = /^\/casync\/([^/]+)\/([0-9a-f]{4})\/([0-9a-f]{64})\.cacnk$/.exec(req.url ?? '');
    const extra = c ? opts.extraDatastores?.[c[1] as string] : undefined;
    if (c && extra?.layout === 'casync') chunk = { offset: 0, size: 0, digest: c[3] as string, key: `${extra.prefix}/${c[2]}/${c[3]}.cacnk` };
    if (!chunk) {
      res.writeHead(404).end();
      return;
    }
    const cached = cache.get(chunk.key);
    const p = cached
      ? Promise.resolve(cached)
      : fetches.run(chunk.key, () =>
          fetchBuffer(objectUrl(opts.s3.endpoint, opts.s3.bucket, chunk.key)).then((b) => {
            cache.set(chunk.key, b);
            return b;
          }),
        );
    p.then(
      (b) => res.writeHead(200, { 'content-length': b.length }).end(b),
      () => res.writeHead(502).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const exports = new Map<string, Nbdkit>();
  try {
    for (const img of opts.images) exports.set(img.name, await startNbdkit({ plugin: 'file', params: [img.rawPath] }));
  } catch (err) {
    for (const n of exports.values()) await n.stop();
    server.close();
    throw err;
  }
  return {
    gatewayUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    // The stand-in has no S3 endpoint.
    s3Url: async () => undefined,
    storeName: (image: ChunkedImage) => image.name,
    nbdUri: (image: ChunkedImage) => {
      const n = exports.get(image.name);
      if (!n) throw new Error(`no export for ${image.name}`);
      return n.uri;
    },
    gatewayPids: () => [process.pid],
    processes: () => [{ role: 'gateway', pid: process.pid }],
    stop: async () => {
      for (const n of exports.values()) await n.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Pipelined ZADD (NX for admit, XX for touch) over raw RESP for `durationMs`; ops/s. */
async function zaddRate(host: string, port: number, key: string, flag: 'NX' | 'XX', durationMs: number): Promise<number> {
  const sock = net.connect({ host, port });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const batch = 256;
  let ops = 0;
  let pending = 0;
  let waiter: (() => void) | undefined;
  sock.on('data', (b: Buffer) => {
    for (const byte of b) if (byte === 10) pending--;
    if (pending <= 0) waiter?.();
  });
  const t0 = performance.now();
  try {
    while (performance.now() - t0 < durationMs) {
      let cmd = '';
      for (let i = 0; i < batch; i++) {
        const member = `m${(ops + i) % 100_000}`;
        cmd += `*5\r\n$4\r\nZADD\r\n$${key.length}\r\n${key}\r\n$2\r\n${flag}\r\n$${String(ops + i).length}\r\n${ops + i}\r\n$${member.length}\r\n${member}\r\n`;
      }
      pending = batch;
      await new Promise<void>((resolve) => {
        waiter = resolve;
        sock.write(cmd);
      });
      ops += batch;
    }
    return ops / ((performance.now() - t0) / 1000);
  } finally {
    sock.destroy();
  }
}

/** The stand-in hook. */
export const fakeLarderHook: LarderHook = {
  start: startFake,
  indexBench: async ({ redis, durationMs, keyPrefix }) => {
    const key = `${keyPrefix}zset`;
    const half = Math.max(100, durationMs / 2);
    const admitOpsPerSec = await zaddRate(redis.host, redis.port, key, 'NX', half);
    const touchOpsPerSec = await zaddRate(redis.host, redis.port, key, 'XX', half);
    return { admitOpsPerSec, touchOpsPerSec };
  },
};
