import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startNbdkit } from './nbdkit.js';
import { nbdCopyToNull } from './nbd-copy.js';
import { fioHasNbd, runFioNbd, runMixed } from './fio.js';
import { startNginx } from './nginx.js';
import { runHttpLoad } from './http-load.js';
import { runWrk } from './wrk.js';
import { runRedisZaddBenchmark, startPrivateRedis } from './redis-bench.js';
import { readRss } from './rss.js';
import { MiB } from './units.js';

/** True when `cmd` is on PATH. */
function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('external tools (skipped when not installed: bench/scripts/install-tools.sh)', () => {
  it.skipIf(!have('nbdkit') || !have('nbdcopy'))('reads a whole nbdkit export with nbdcopy', async () => {
    const nk = await startNbdkit({ plugin: 'memory', params: ['size=16M'] });
    try {
      const r = await nbdCopyToNull(nk.uri);
      expect(r.bytes).toBe(16 * MiB);
      expect(r.command).toContain('--no-extents');
      expect(await readRss(nk.pid ?? 0)).toBeGreaterThan(0);
    } finally {
      await nk.stop();
    }
  });

  it.skipIf(!have('nbdkit') || !have('fio'))('runs fio through its nbd engine and reads p50/p99', async () => {
    expect(await fioHasNbd()).toBe(true);
    const nk = await startNbdkit({ plugin: 'memory', params: ['size=64M'] });
    try {
      const r = await runFioNbd({ uri: nk.uri, runtimeSec: 1 });
      expect(r.ios).toBeGreaterThan(0);
      expect(r.p50Ms).toBeGreaterThan(0);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
      const m = await runMixed(nk.uri, 1);
      expect(m.copy.mibPerSec).toBeGreaterThan(0);
      expect(m.withCopy.ios).toBeGreaterThan(0);
    } finally {
      await nk.stop();
    }
  });

  it.skipIf(!have('nginx'))('serves chunk files with nginx; the load generators read them whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'larder-nginx-test-'));
    try {
      await mkdir(join(dir, 'root', '.chunks', 'abcd'), { recursive: true });
      const sizes = [65536, 1000, 200_000];
      const paths = await Promise.all(
        sizes.map(async (n, i) => {
          await writeFile(join(dir, 'root', '.chunks', 'abcd', `c${i}`), randomBytes(n));
          return `/.chunks/abcd/c${i}`;
        }),
      );
      const nginx = await startNginx(join(dir, 'nginx'), join(dir, 'root'));
      try {
        const r = await runHttpLoad({ base: nginx.url, paths, concurrency: 8, requests: 60, expectBytes: (i) => sizes[i] });
        expect(r.errors).toBe(0);
        expect(r.requests).toBe(60);
        expect(r.bytes).toBe(20 * sizes.reduce((a, b) => a + b, 0));
        const missing = await runHttpLoad({ base: nginx.url, paths: ['/nope'], concurrency: 1, requests: 2 });
        expect(missing.errors).toBe(2);
        if (have('wrk')) {
          const w = await runWrk({ base: nginx.url, paths, concurrency: 8, durationMs: 1000 });
          expect(w.requests).toBeGreaterThan(0);
          expect(w.errors).toBe(0);
          expect(w.p99Ms).toBeGreaterThan(0);
        }
      } finally {
        await nginx.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!have('redis-server') || !have('redis-benchmark'))('measures pipelined ZADD on a private redis-server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'larder-redis-test-'));
    const redis = await startPrivateRedis(dir);
    try {
      const r = await runRedisZaddBenchmark({ host: redis.host, port: redis.port, requests: 20_000 });
      expect(r.opsPerSec).toBeGreaterThan(0);
      expect(r.command).toContain('-P 16');
      const left = execFileSync('redis-cli', ['-p', String(redis.port), 'EXISTS', 'larder-bench:zadd'])
        .toString()
        .trim();
      expect(left).toBe('0');
    } finally {
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
