import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type Config } from '@larder/config';
import { encodeChunk } from '@larder/formats';
import { ChunkIndex, createRedis } from '@larder/redis';
import { Volume } from '@larder/volume';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scrubber } from './scrubber.js';

// The shared Redis, in its own namespace (nothing is flushed).
const ns = `t${randomBytes(5).toString('hex')}`;
const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const index = new ChunkIndex(redis, ns);
let dir: string;
let volume: Volume;
let config: Config;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), `larder-scrub-${ns}-`));
  volume = new Volume(dir, ns, { fsync: false });
  config = parseConfig({
    namespace: ns,
    volume: { path: dir, scrubRate: '2MiB' },
    datastores: { demo: { layout: 'pbs', bucket: 'b-demo' }, cas: { layout: 'casync', bucket: 'b-cas' } },
  });
});
afterAll(async () => {
  await index.clear();
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

/** Write a chunk as the fetcher does (verified object, admitted); returns its digest. */
async function put(store: 'demo' | 'cas', plain: Buffer): Promise<string> {
  const { digest, bytes } = encodeChunk(store === 'demo' ? 'pbs' : 'casync', plain);
  await volume.writeChunk(store, digest, bytes);
  await index.admit(`${store}/${digest}`, bytes.length);
  return digest;
}

async function flip(store: string, digest: string): Promise<void> {
  const fh = await open(volume.chunkPath(store, digest), 'r+');
  try {
    const at = Math.floor((await fh.stat()).size / 2);
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = (b[0] as number) ^ 1;
    await fh.write(b, 0, 1, at);
  } finally {
    await fh.close();
  }
}

describe('Scrubber', () => {
  it('re-verifies the volume in the background at volume.scrubRate and quarantines only what fails', async () => {
    const good = [await put('demo', randomBytes(300_000)), await put('demo', Buffer.alloc(300_000, 'x')), await put('cas', randomBytes(50_000))];
    const bad = [await put('demo', randomBytes(200_000)), await put('cas', Buffer.alloc(80_000, 'y'))];
    for (const [i, d] of bad.entries()) await flip(i === 0 ? 'demo' : 'cas', d);
    const before = await index.stats();
    const scrubber = new Scrubber({ config: () => config, index, volume });
    scrubber.start();
    try {
      // About 1 MB at 2 MiB/s: half a second or so for the first pass.
      for (let i = 0; i < 100 && scrubber.status.passes < 1; i++) await new Promise((r) => setTimeout(r, 50));
      const s = scrubber.status;
      expect(s.passes).toBeGreaterThanOrEqual(1);
      expect(s.rateBytesPerSec).toBe(2 * 2 ** 20);
      expect(s.quarantined).toBe(2);
      expect(s.findings.map((f) => f.key).sort()).toEqual([`demo/${bad[0]}`, `cas/${bad[1]}`].sort());
      expect(s.findings[0]?.path).toMatch(new RegExp(`${ns}/chunks/`));
      expect(s.totalChunks).toBe(5);
    } finally {
      await scrubber.stop();
    }
    expect(await volume.hasChunk('demo', bad[0] as string)).toBe(false);
    expect(await volume.hasChunk('cas', bad[1] as string)).toBe(false);
    expect(await index.has(`demo/${bad[0]}`)).toBe(false);
    for (const d of good.slice(0, 2)) expect(await volume.hasChunk('demo', d)).toBe(true);
    expect(await volume.hasChunk('cas', good[2] as string)).toBe(true);
    const totals = await index.totals();
    expect(totals.chunkCount).toBe(3);
    const after = await index.stats();
    expect((after.quarantined ?? 0) - (before.quarantined ?? 0)).toBe(2);
    expect((after.verifyFailures ?? 0) - (before.verifyFailures ?? 0)).toBe(2);
  });

  it('is paced: a pass over 2 MiB at 1 MiB/s takes about 2 s; rate 0 checks nothing', async () => {
    const local = new Volume(dir, `${ns}p`, { fsync: false });
    for (let i = 0; i < 4; i++) {
      const { digest, bytes } = encodeChunk('pbs', randomBytes(512 * 1024));
      await local.writeChunk('demo', digest, bytes);
    }
    let rate = 1024 * 1024;
    const cfg = () => ({ ...config, volume: { ...config.volume, scrubRate: rate } });
    const scrubber = new Scrubber({ config: cfg, index, volume: local });
    const t0 = Date.now();
    scrubber.start();
    try {
      for (let i = 0; i < 100 && scrubber.status.passes < 1; i++) await new Promise((r) => setTimeout(r, 50));
      // Paced, not timed: the pass must not have finished in well under the time its bytes take at the rate.
      expect(scrubber.status.passes).toBe(1);
      expect(Date.now() - t0).toBeGreaterThan(1000);
      rate = 0;
      const checked = scrubber.status.totalChunks;
      await new Promise((r) => setTimeout(r, 200));
      expect(scrubber.status.totalChunks).toBe(checked);
      expect(scrubber.status.rateBytesPerSec).toBe(0);
    } finally {
      await scrubber.stop();
      await local.destroy();
    }
  });
});
