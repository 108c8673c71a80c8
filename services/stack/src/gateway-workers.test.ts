import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@larder/config/testing';
import { importRawImage } from '@larder/datastore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessStack, until, type ProcessStack } from './test-processes.js';

// `gateway.workers: 2` with the gateway as its own process (dist/main.js): a supervisor and two HTTP workers on one
// port; NBD in worker 0.

let stack: ProcessStack;
let nbdPort: number;
let image: Buffer;
const digests: string[] = [];
const workerPids = new Set<number>();

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/** A client with one keep-alive connection of its own: the cluster's primary hands each new connection to a worker in turn. */
function client() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (p: string) =>
    new Promise<Answer>((resolve, reject) => {
      http
        .get(`${stack.gatewayUrl}${p}`, { agent }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
  return {
    get,
    /** Which worker answers on this connection. */
    worker: async () => {
      const s = JSON.parse((await get('/v1/status')).body.toString()) as {
        gatewayProcess: { pid: number; worker: number; workers: number };
        decodedSpill: { scrub: { rateBytesPerSec: number } };
        nbd: { accepted: number } | null;
      };
      workerPids.add(s.gatewayProcess.pid);
      return { ...s.gatewayProcess, spillScrubRate: s.decodedSpill.scrub.rateBytesPerSec, nbdAccepted: s.nbd?.accepted };
    },
    close: () => agent.destroy(),
  };
}

const chunkPath = (digest: string) => `/v1/stores/demo/chunks/${digest}`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  nbdPort = await freePort();
  stack = await startProcessStack({ config: { gateway: { workers: 2, nbdListen: `127.0.0.1:${nbdPort}` } } });
  image = randomBytes(8 * 2 ** 20);
  const file = path.join(stack.dir, 'img.raw');
  await writeFile(file, image);
  await importRawImage({ ds: stack.ds('demo'), file, name: 'img' });
  for (let i = 0; i < 2; i++)
    digests.push(
      createHash('sha256')
        .update(image.subarray(i * 4 * 2 ** 20, (i + 1) * 4 * 2 ** 20))
        .digest('hex'),
    );
}, 120_000);

afterAll(async () => {
  await stack?.cleanup();
  // kill -9 of the supervisor (what cleanup does): its workers see their channel close and exit on their own.
  for (const pid of workerPids) await until(`worker ${pid} to exit after its supervisor was killed`, () => !alive(pid), 15_000);
}, 60_000);

describe('gateway.workers: 2', () => {
  it('serves hits from both workers; a killed worker is started again and requests keep being served', async () => {
    // Cache the chunks once (a miss), then hits on connections of both workers.
    const first = client();
    const miss = await first.get(chunkPath(digests[0] as string));
    expect(miss.status).toBe(200);
    await first.get(chunkPath(digests[1] as string));
    first.close();

    const hitsBy = new Map<number, number>();
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const c = client();
      const w = await c.worker();
      expect(w.workers).toBe(2);
      expect(w.spillScrubRate).toBe(2 * 2 ** 20); // volume.scrubRate (4 MiB/s) shared by the two workers' spills
      const r = await c.get(chunkPath(digests[0] as string));
      expect(r.status).toBe(200);
      expect(r.headers['x-larder-cache']).toBe('hit');
      bodies.add(createHash('sha256').update(r.body).digest('hex'));
      hitsBy.set(w.worker, (hitsBy.get(w.worker) ?? 0) + 1);
      c.close();
    }
    expect([...hitsBy.keys()].sort()).toEqual([0, 1]);
    expect(bodies.size).toBe(1);

    // /metrics on either worker counts the hits of both (added up by the supervisor).
    for (let i = 0; i < 2; i++) {
      const c = client();
      const text = (await c.get('/metrics')).body.toString();
      c.close();
      const hits = Number(/^larder_gateway_requests_total\{[^}]*route="chunk"[^}]*result="hit"[^}]*\} (\d+)/m.exec(text)?.[1]);
      expect(hits).toBe(6);
    }

    // kill -9 of worker 1: new connections go to the live worker, and the supervisor starts worker 1 again.
    let killed: number | undefined;
    for (let i = 0; i < 4 && killed === undefined; i++) {
      const c = client();
      const w = await c.worker();
      if (w.worker === 1) killed = w.pid;
      c.close();
    }
    if (killed === undefined) throw new Error('no connection reached worker 1');
    process.kill(killed, 'SIGKILL');
    await until('the killed worker to exit', () => !alive(killed), 10_000);
    for (let i = 0; i < 10; i++) {
      const c = client();
      const r = await c.get(chunkPath(digests[1] as string));
      expect(r.status).toBe(200);
      expect(r.headers['x-larder-cache']).toBe('hit');
      c.close();
    }
    await until(
      'worker 1 to be started again',
      async () => {
        const c = client();
        const w = await c.worker();
        c.close();
        return w.worker === 1 && w.pid !== killed;
      },
      30_000,
    );
    // The supervisor itself lives on.
    expect(alive(stack.services.gateway.pid() as number)).toBe(true);
  }, 120_000);

  it('serves NBD from worker 0 only: a multi-conn client’s connections all reach it, the bytes are the image', async () => {
    const out = path.join(stack.dir, 'nbd-copy.raw');
    await promisify(execFile)('nbdcopy', ['--connections=4', `nbd://127.0.0.1:${nbdPort}/demo/img.fidx`, out], { timeout: 60_000 });
    expect((await readFile(out)).equals(image)).toBe(true);
    const accepted = new Map<number, number | undefined>();
    await until(
      'both workers to have answered /v1/status',
      async () => {
        const c = client();
        const w = await c.worker();
        c.close();
        accepted.set(w.worker, w.nbdAccepted);
        return accepted.size === 2;
      },
      30_000,
    );
    expect(accepted.get(0)).toBeGreaterThanOrEqual(1); // nbdcopy opens min(--connections, its threads: one per core)
    expect(accepted.get(1)).toBeUndefined(); // `nbd: null`: no NBD server in worker 1
  }, 120_000);
});
