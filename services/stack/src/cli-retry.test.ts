import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importRawImage } from '@larder/datastore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './test-stack.js';

const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
let stack: TestStack;
let work: string;
let image: Buffer;

/** A running `larder` CLI: its output so far, and its end. */
interface CliRun {
  stdout: () => string;
  stderr: () => string;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Run the real CLI against the stack, or against `gatewayUrl` (a proxy in front of it). */
async function cli(args: string[], gatewayUrl = stack.gateway()): Promise<CliRun> {
  const env = { ...process.env, LARDER_CONFIG: await stack.writeConfigFile(), LARDER_GATEWAY_URL: gatewayUrl };
  const child = spawn(process.execPath, [cliMain, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
  return { stdout: () => stdout, stderr: () => stderr, done };
}

/** Wait (bounded) until `cond` holds. */
async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  // No fetcher: every miss answers 503 until a test starts one.
  stack = await startTestStack({ fetchers: 0 });
  work = path.join(stack.dir, 'retry');
  await mkdir(work, { recursive: true });
  image = Buffer.concat([randomBytes(8 * 2 ** 20), Buffer.alloc(4 * 2 ** 20), randomBytes(2 * 2 ** 20 + 777)]);
  await writeFile(path.join(work, 'disk.raw'), image);
  await importRawImage({ ds: stack.ds('demo'), file: path.join(work, 'disk.raw'), name: 'disk' });
}, 60_000);
afterAll(() => stack?.cleanup());

describe('larder restore and warm retry transient failures', () => {
  it('gives up after --retry-for, and never retries a 4xx', async () => {
    const out = path.join(work, 'given-up.raw');
    const r = await (await cli(['restore', 'demo/disk.fidx', out, '--retry-for', '1s'])).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/restore: 503 .*no service is running to answer; retrying/);
    expect(r.stderr).toMatch(/larder restore: 503 .*\(gave up after retrying for 1(\.\d)? s; --retry-for sets how long\)/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
    await expect(stat(`${out}.larder-partial`)).rejects.toThrow(/ENOENT/);

    const missing = await (await cli(['restore', 'demo/none.fidx', out])).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 no image none\.fidx/);
    expect(missing.stderr).not.toMatch(/retrying/);
    const warmMissing = await (await cli(['warm', 'demo/none.fidx'])).done;
    expect(warmMissing.stderr).toMatch(/404 no image none\.fidx/);
    expect(warmMissing.stderr).not.toMatch(/retrying/);
    expect((await (await cli(['restore', 'demo/disk.fidx', out, '--retry-for', 'soon'])).done).code).toBe(2);
  });

  it('wait out a gateway without fetchers (503) and finish byte-exact once one starts', async () => {
    const out = path.join(work, 'restored.raw');
    const restore = await cli(['restore', 'demo/disk.fidx', out, '--parallel', '2', '--retry-for', '60s']);
    const warm = await cli(['warm', 'demo/disk.fidx', '--retry-for', '60s']);
    await until('both to retry', () => /retrying/.test(restore.stderr()) && /retrying/.test(warm.stderr()));
    await stack.startFetcher();
    const [r, w] = await Promise.all([restore.done, warm.done]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/restore: 503 .*no service is running to answer; retrying/);
    expect(r.stdout).toMatch(/4 chunks verified, \d+ requests? retried \(\d+ retr(y|ies)\)/);
    expect((await readFile(out)).equals(image)).toBe(true);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/warm: 503 unavailable; retrying/);
    expect(w.stdout).toMatch(/warmed demo\/disk\.fidx: 3 chunks .*, \d+ requests? retried/);
  });

  it('restore survives a refused connection and connections reset mid-body (a gateway restarting), resuming where they broke', async () => {
    // A TCP proxy in front of the gateway: nothing listens at first; then the first two connections are reset
    // after 1 MiB of the answer; later ones are passed through.
    const gateway = new URL(stack.gateway());
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    let connections = 0;
    const sockets = new Set<Socket>();
    const proxy: Server = createServer((client) => {
      const n = ++connections;
      const upstream = connect(Number(gateway.port), gateway.hostname);
      sockets.add(client).add(upstream);
      let bytes = 0;
      upstream.on('data', (d: Buffer) => {
        bytes += d.byteLength;
        if (n <= 2 && bytes > 2 ** 20) {
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        client.write(d);
      });
      client.pipe(upstream);
      upstream.on('end', () => client.end());
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    const out = path.join(work, 'through-proxy.raw');
    try {
      const restore = await cli(['restore', 'demo/disk.fidx', out, '--parallel', '1', '--retry-for', '60s'], `http://127.0.0.1:${port}`);
      await until('a refused connection', () => /ECONNREFUSED|cannot reach the gateway/.test(restore.stderr()));
      await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
      const r = await restore.done;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/restore: cannot reach the gateway .*: fetch failed \(ECONNREFUSED\); retrying/);
      // A reset mid-body surfaces as undici's socket error or as the reset itself, depending on when it lands.
      expect(r.stderr).toMatch(/restore: (reading bytes \d+-\d+ from|cannot reach) the gateway.*\((UND_ERR_SOCKET|ECONNRESET)\); retrying/);
      expect(connections).toBeGreaterThan(2); // two were reset mid-body
      expect(r.stdout).toMatch(/4 chunks verified, \d+ requests? retried/);
      expect((await readFile(out)).equals(image)).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
