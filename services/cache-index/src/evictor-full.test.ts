import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '@larder/config';
import { connectNodeDeps, type NodeDeps } from '@larder/service-kit';
import { Evictor } from './evictor.js';

const run = promisify(execFile);
const MiB = 2 ** 20;
/** Mounting a tmpfs needs root (this machine and CI run as root). */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('evictor-full.test.ts skipped: mounting a small tmpfs as the volume needs root');

// The shared Redis and NATS, in its own namespace; the volume on a 16 MiB tmpfs.
const digest = (i: number) => i.toString(16).padStart(2, '0').repeat(32);
let mount: string | undefined;
let config: Config;
let deps: NodeDeps;

beforeAll(async () => {
  if (!isRoot) return;
  const ns = `t${randomBytes(5).toString('hex')}`;
  mount = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount]);
  config = parseConfig({
    namespace: ns,
    capacity: '1GiB',
    volume: { path: mount, fsync: false, reserve: 0.05 },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
  });
  deps = await connectNodeDeps(config, 'evictor-test');
});
afterAll(async () => {
  await deps?.index.clear();
  await deps?.close();
  if (mount) {
    await run('umount', [mount]).catch(() => run('umount', ['-l', mount as string]));
    await rm(mount, { recursive: true, force: true });
  }
});

describe.skipIf(!isRoot)('eviction on a full filesystem (16 MiB tmpfs, capacity 1 GiB)', () => {
  it('makes room on request, tells whoever holds evicted files, and converges while they stay open', async () => {
    const evicted: string[] = [];
    const evictor = new Evictor({ ...deps, config: () => config, evicted: (keys) => evicted.push(...keys) });
    const fds: number[] = [];
    for (let i = 1; i <= 14; i++) {
      await deps.volume.writeChunk('demo', digest(i), randomBytes(MiB));
      await deps.index.admit(`demo/${digest(i)}`, MiB, 1000 + i);
      // Every file held open, as a reader that has not closed them yet.
      fds.push(openSync(deps.volume.chunkPath('demo', digest(i)), 'r'));
    }
    const first = await evictor.run();
    // The filesystem keeps its reserve: the capacity is lowered to what fits, and 14 MiB fit.
    expect(first.effectiveCapacityBytes).toBeLessThan(16 * MiB);
    expect(first.evictedChunks).toBe(0);
    // A writer needs 3 MiB: the three least recently used go, their keys are published.
    const fs0 = await deps.volume.filesystem();
    const reserve = Math.ceil(fs0.totalBytes * 0.05);
    const room = await evictor.run(fs0.freeBytes - reserve + 3 * MiB);
    expect(room.evictedChunks).toBe(3);
    expect(evicted).toEqual([1, 2, 3].map((i) => `demo/${digest(i)}`));
    // Their files are still open: the filesystem shows no more free space, yet the writer asking again (and plain
    // passes) do not evict on and on: the space of the files just evicted is on its way back.
    const used = room.usedBytes;
    expect(await evictor.run(fs0.freeBytes - reserve + 3 * MiB)).toMatchObject({ evictedChunks: 0, usedBytes: used });
    for (let k = 0; k < 3; k++) expect(await evictor.run()).toMatchObject({ evictedChunks: 0, usedBytes: used });
    // Closed: the space is back, and the capacity still holds what is cached.
    for (const fd of fds) closeSync(fd);
    const after = await evictor.run();
    expect(after).toMatchObject({ evictedChunks: 0, usedBytes: used });
    expect(after.usedBytes).toBeLessThanOrEqual(after.effectiveCapacityBytes);
    const fs = await deps.volume.filesystem();
    expect(fs.freeBytes - reserve).toBeGreaterThanOrEqual(fs0.freeBytes - reserve + 3 * MiB);
  });

  it('shares one pass among concurrent callers, making room for all of them but not evicting everything', async () => {
    const evictor = new Evictor({ ...deps, config: () => config });
    const reserve = Math.ceil((await deps.volume.filesystem()).totalBytes * 0.05);
    // Fill the filesystem up to its reserve.
    for (let i = 0x20; (await deps.volume.filesystem()).freeBytes - reserve >= MiB; i++) {
      await deps.volume.writeChunk('demo', digest(i), randomBytes(MiB));
      await deps.index.admit(`demo/${digest(i)}`, MiB);
    }
    const before = await deps.index.totals();
    const reports = await Promise.all([evictor.run(), evictor.run(MiB), evictor.run(MiB), evictor.run(MiB)]);
    // The three requests shared the second pass, which made room for 3 MiB (at most a quarter of the capacity).
    expect(reports[1]).toBe(reports[2]);
    expect(reports[2]).toBe(reports[3]);
    const freed = before.usedBytes - (reports[3]?.usedBytes ?? 0);
    const fs = await deps.volume.filesystem();
    expect(fs.freeBytes - reserve).toBeGreaterThanOrEqual(3 * MiB);
    expect(freed).toBeLessThanOrEqual(Math.ceil((reports[3]?.effectiveCapacityBytes ?? 0) / 4) + MiB);
    expect((await deps.index.totals()).chunkCount).toBeGreaterThan(0);
  });
});
