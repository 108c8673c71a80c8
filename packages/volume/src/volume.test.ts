import { closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Volume } from './volume.js';

const d = 'ab'.repeat(32);
const root = await mkdtemp(path.join(os.tmpdir(), 'larder-volume-'));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('Volume', () => {
  it('writes atomically, lists, reads an unlinked file whole', async () => {
    const v = new Volume(root, 'ns1');
    await v.writeChunk('demo', d, Buffer.from('hello'));
    expect(await v.hasChunk('demo', d)).toBe(true);
    const fd = v.openChunkSync('demo', d);
    expect(await v.removeChunk('demo', d)).toBe(true);
    expect(readFileSync(fd!).toString()).toBe('hello');
    closeSync(fd!);
    expect(v.openChunkSync('demo', d)).toBeUndefined();
    await v.writeChunk('demo', d, Buffer.from('x'));
    const listed = [];
    for await (const c of v.listChunks()) listed.push(c);
    expect(listed).toEqual([{ key: `demo/${d}`, size: 1 }]);
    expect(await readdir(path.dirname(v.chunkPath('demo', d)))).toEqual([d]);
  });

  it('reports sizes, creates missing shard directories, and leaves no temp file when a write fails', async () => {
    const v = new Volume(root, 'ns3');
    expect(await v.chunkSize('demo', d)).toBeUndefined();
    await v.writeChunk('demo', d, Buffer.alloc(70_000, 7));
    expect(await v.chunkSize('demo', d)).toBe(70_000);
    const other = 'cd'.repeat(32);
    await v.writeChunk('other', other, Buffer.from('y'));
    expect(await v.chunkSize('other', other)).toBe(1);
    // A write into a shard that is a file, not a directory, fails cleanly and leaves nothing behind.
    const blocked = 'ef'.repeat(32);
    await writeFile(path.dirname(v.chunkPath('demo', blocked)), 'not a directory');
    await expect(v.writeChunk('demo', blocked, Buffer.from('z'))).rejects.toThrow();
    expect(await readdir(path.dirname(path.dirname(v.chunkPath('demo', blocked))))).toEqual([d.slice(0, 2), 'ef'].sort());
  });

  it('sweeps stale temp files and never lists them', async () => {
    const v = new Volume(root, 'ns2');
    await v.writeChunk('demo', d, Buffer.from('x'));
    const temp = path.join(path.dirname(v.chunkPath('demo', d)), `.tmp-${d}.1.abcd`);
    await writeFile(temp, 'partial');
    const listed = [];
    for await (const c of v.listChunks()) listed.push(c.key);
    expect(listed).toEqual([`demo/${d}`]);
    expect(await v.sweepTempFiles(60_000)).toBe(0);
    await utimes(temp, new Date(0), new Date(0));
    expect(await v.sweepTempFiles(60_000)).toBe(1);
  });

  it('lists last-use times and keeps the temp file of a live writer until liveWriterMs', async () => {
    const v = new Volume(root, 'ns4');
    await v.writeChunk('demo', d, Buffer.from('x'));
    await utimes(v.chunkPath('demo', d), new Date(5_000_000), new Date(4_000_000));
    const listed = [];
    for await (const c of v.listChunks({ times: true })) listed.push(c);
    expect(listed).toEqual([{ key: `demo/${d}`, size: 1, lastUsedMs: 5_000_000 }]);
    const dir = path.dirname(v.chunkPath('demo', d));
    const live = path.join(dir, `.tmp-${d}.${process.pid}.abcd`);
    const dead = path.join(dir, `.tmp-${d}.999999999.abcd`);
    const old = new Date(Date.now() - 40_000);
    for (const f of [live, dead]) {
      await writeFile(f, 'partial');
      await utimes(f, old, old);
    }
    expect(await v.sweepTempFiles(30_000, 60_000)).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([live, d].map((f) => path.basename(f)).sort());
    expect(await v.sweepTempFiles(30_000, 35_000)).toBe(1);
    expect(await readdir(dir)).toEqual([d]);
  });
});
