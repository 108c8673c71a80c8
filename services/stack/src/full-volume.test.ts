import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { importRawImage, pushCasyncStore } from '@larder/datastore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

const run = promisify(execFile);
const MiB = 2 ** 20;
const FS_MIB = 64;
/** Mounting a tmpfs needs root (this machine and CI run as root). */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('full-volume.test.ts skipped: mounting a small tmpfs as the volume needs root');

let stack: TestStack;
let mount: string | undefined;
let work: string;
let pbsImage: Buffer;
let casImage: Buffer;

/** Chunk files on the volume, temp files (`.tmp-…`) and the bytes they hold. */
async function volumeFiles(): Promise<{ chunks: number; temps: string[] }> {
  let chunks = 0;
  const temps: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(dir, e.name));
      else if (e.name.startsWith('.tmp-')) temps.push(e.name);
      else chunks++;
    }
  };
  await walk(stack.deps.volume.dir);
  return { chunks, temps };
}

async function status(): Promise<{ usedBytes: number; effectiveCapacityBytes: number; evictedBytes: number }> {
  return JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString());
}

beforeAll(async () => {
  if (!isRoot) return;
  // The volume on a 64 MiB filesystem; the configured capacity far larger, so the filesystem is what limits.
  mount = await mkdtemp(path.join(os.tmpdir(), 'larder-small-fs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${FS_MIB}m`, 'tmpfs', mount]);
  stack = await startTestStack({
    fetchers: 2,
    config: {
      capacity: '1GiB',
      volume: { path: mount, reserve: 0.05 },
      // The product's default request budget: on these shared 2 cores a 4 MiB fetch at 32 in flight takes seconds.
      gateway: { listen: '127.0.0.1:0', nbdListen: '127.0.0.1:0', touchFlushInterval: '100ms', requestTimeout: '20s' },
      // Fewer fetches at once than the defaults (S3 here is s3rver in this process, on shared cores), still many.
      fetcher: { timeout: '15s', retries: 2, backoff: '50ms', concurrency: 32 },
      images: { readahead: 4 },
    },
  });
  work = path.join(stack.dir, 'images');
  await mkdir(work, { recursive: true });
  // Three times the filesystem's size each, incompressible (random): a pbs image (plain 4 MiB blobs, read through open
  // chunk files) and a casync image (zstd chunks, decoded).
  pbsImage = randomBytes(3 * FS_MIB * MiB + 12345);
  await writeFile(path.join(work, 'pbs.raw'), pbsImage);
  await importRawImage({ ds: stack.ds('demo'), file: path.join(work, 'pbs.raw'), name: 'big' });
  casImage = randomBytes(3 * FS_MIB * MiB + 777);
  await writeFile(path.join(work, 'cas.raw'), casImage);
  await run('casync', ['make', '--chunk-size=256K', `--store=${path.join(work, 'store')}`, path.join(work, 'big.caibx'), path.join(work, 'cas.raw')]);
  await pushCasyncStore({ ds: stack.ds('cas'), storeDir: path.join(work, 'store'), indexes: [path.join(work, 'big.caibx')] });
}, 240_000);

afterAll(async () => {
  await stack?.cleanup();
  if (mount) {
    await run('umount', [mount]).catch(() => run('umount', ['-l', mount as string]));
    await rm(mount, { recursive: true, force: true });
  }
}, 60_000);

describe.skipIf(!isRoot)(`a full volume: a ${FS_MIB} MiB filesystem, capacity 1 GiB`, () => {
  it('restores a pbs image three times the filesystem over HTTP Range, 8 at once, with zero errors', async () => {
    const out = path.join(work, 'pbs.out');
    const r = await stack.cli(['restore', 'demo/big.fidx', out, '--parallel', '8', '--retry-for', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/retried/);
    expect((await readFile(out)).equals(pbsImage)).toBe(true);
  }, 120_000);

  it('copies the same image over NBD (nbdcopy, many requests in flight) byte for byte', async () => {
    const out = path.join(work, 'pbs-nbd.out');
    await run('nbdcopy', [`nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/demo/big.fidx`, out]);
    expect((await readFile(out)).equals(pbsImage)).toBe(true);
  }, 120_000);

  it('restores a casync image three times the filesystem with zero errors', async () => {
    const out = path.join(work, 'cas.out');
    const r = await stack.cli(['restore', 'cas/big.caibx', out, '--parallel', '8', '--retry-for', '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/retried/);
    expect((await readFile(out)).equals(casImage)).toBe(true);
  }, 120_000);

  it('failed no fetch, left no temp file, and the cache still works: within its capacity, the reserve kept, misses admitted', async () => {
    for (const f of stack.fetchers) expect(f.stats().failed).toBe(0);
    expect((await volumeFiles()).temps).toEqual([]);
    const s = await status();
    // The volume was filled and recycled several times over, and the cache is within its capacity.
    expect(s.evictedBytes).toBeGreaterThan(4 * FS_MIB * MiB);
    expect(s.usedBytes).toBeLessThanOrEqual(s.effectiveCapacityBytes);
    expect(s.effectiveCapacityBytes).toBeLessThan(FS_MIB * MiB);
    const chunk = await stack.putChunk('demo', randomBytes(3 * MiB));
    const miss = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${chunk.digest}`);
    expect(miss.status).toBe(200);
    expect(miss.headers.get('x-larder-cache')).toBe('miss');
    expect(miss.body.equals(chunk.bytes)).toBe(true);
    const hit = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${chunk.digest}`);
    expect(hit.headers.get('x-larder-cache')).toBe('hit');
    const after = await stack.cacheIndex.evict();
    expect(after.usedBytes).toBeLessThanOrEqual(after.effectiveCapacityBytes);
  }, 60_000);
});
