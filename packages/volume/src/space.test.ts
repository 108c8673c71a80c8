import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VolumeSpace, isNoSpace, isShortfall, volumeSpace } from './space.js';
import { Volume } from './volume.js';

const run = promisify(execFile);
const MiB = 2 ** 20;
/** Mounting a tmpfs needs root (this machine and CI run as root). */
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('space.test.ts skipped: mounting a small tmpfs needs root');
let mount: string | undefined;

beforeAll(async () => {
  if (!isRoot) return;
  mount = await mkdtemp(path.join(os.tmpdir(), 'larder-space-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
});
afterAll(async () => {
  if (!mount) return;
  await run('umount', [mount]).catch(() => run('umount', ['-l', mount as string]));
  await rm(mount, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('VolumeSpace on a 4 MiB filesystem', () => {
  it('reserves room for writes in flight against the free space less the reserve', async () => {
    const v = new Volume(mount as string, 'ns1', { fsync: false });
    const space = new VolumeSpace(v);
    const a = await space.reserve(2 * MiB, 0.05);
    expect(isShortfall(a)).toBe(false);
    expect(space.reservedBytes).toBe(2 * MiB);
    // 2 MiB more do not fit beside the first write and the reserve.
    const b = await space.reserve(2 * MiB, 0.05);
    expect(b).toMatchObject({ neededBytes: 4 * MiB, never: false });
    // Larger than the filesystem less its reserve: never.
    expect(await space.reserve(4 * MiB, 0.05)).toMatchObject({ never: true });
    if (isShortfall(a)) throw new Error('unreachable');
    await v.writeChunk('demo', 'ab'.repeat(32), Buffer.alloc(2 * MiB, 1));
    a.release(true);
    a.release(true); // once only
    expect(space.reservedBytes).toBe(0);
    // The write is on the volume: even before a new sample shows it, 2 MiB more do not fit.
    expect(isShortfall(await space.reserve(2 * MiB, 0.05))).toBe(true);
    const small = await space.reserve(MiB, 0.05, true);
    expect(isShortfall(small)).toBe(false);
    if (!isShortfall(small)) small.release(false);
    expect(volumeSpace(v)).toBe(volumeSpace(new Volume(mount as string, 'ns1')));
  });

  it('a write that meets ENOSPC fails as "no space" and leaves no temp file', async () => {
    const v = new Volume(mount as string, 'ns2', { fsync: false });
    const err = await v.writeChunk('demo', 'cd'.repeat(32), Buffer.alloc(3 * MiB, 2)).catch((e: unknown) => e);
    expect(isNoSpace(err)).toBe(true);
    expect(await readdir(path.dirname(v.chunkPath('demo', 'cd'.repeat(32))))).toEqual([]);
    expect(isNoSpace(new Error('other'))).toBe(false);
  });
});
