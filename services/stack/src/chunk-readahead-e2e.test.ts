import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIndex } from '@larder/formats';
import { makeDemoImage, noise } from './demo-image.js';
import { startTestStack, type TestStack } from './test-stack.js';

const run = promisify(execFile);

interface ReadaheadStatus {
  issued: number;
  used: number;
  wasted: number;
  present: number;
  streams: number;
  sequentialStreams: number;
  map: { indexes: number; chunks: number; usedBytes: number; budgetBytes: number };
  indexes: { store: string; image: string; issued: number; used: number }[];
}

let stack: TestStack;
let work: string;
let store: string;
const images: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };

async function readahead(): Promise<ReadaheadStatus> {
  const res = await fetch(`${stack.gateway()}/v1/status`);
  return ((await res.json()) as { chunkReadahead: ReadaheadStatus }).chunkReadahead;
}

async function extract(name: 'a' | 'b' | 'c'): Promise<void> {
  const out = path.join(work, `${name}.out`);
  await rm(out, { force: true });
  await run('casync', ['extract', `--store=${stack.gateway()}/casync/cas/`, path.join(work, `${name}.caibx`), out], { maxBuffer: 2 ** 26 });
  expect((await readFile(out)).equals(await readFile(images[name])), `${name}: extracted bytes differ`).toBe(true);
}

beforeAll(async () => {
  stack = await startTestStack({ fetchers: 2 });
  work = path.join(stack.dir, 'casync');
  await mkdir(work, { recursive: true });
  store = path.join(work, 'store.castr');
  // Two ext4 images (different sizes: different files, some chunks in both) and one of noise.
  images.a = path.join(work, 'a.img');
  images.b = path.join(work, 'b.img');
  images.c = path.join(work, 'c.img');
  await makeDemoImage(images.a, 24);
  await makeDemoImage(images.b, 20);
  await writeFile(images.c, noise('unknown', 6 * 2 ** 20));
  for (const n of ['a', 'b', 'c'] as const) await run('casync', ['make', `--store=${store}`, path.join(work, `${n}.caibx`), images[n]]);
  // c's index is not pushed: Larder does not know it.
  const push = await stack.cli(['push-casync', store, '--index', path.join(work, 'a.caibx'), '--index', path.join(work, 'b.caibx'), '--store', 'cas']);
  if (push.code !== 0) throw new Error(`push-casync failed: ${push.stderr}`);
}, 120_000);
afterAll(() => stack?.cleanup());

describe('readahead for chunk-by-chunk clients, inferred from the indexes', () => {
  it('two casync extracts of different indexes at once, cold: byte for byte, each with chunks fetched ahead and used', async () => {
    const before = await readahead();
    expect(before.issued).toBe(0);
    await Promise.all([extract('a'), extract('b')]);
    const after = await readahead();
    expect(after.map.indexes).toBe(2);
    expect(after.issued).toBeGreaterThan(0);
    expect(after.used).toBeGreaterThan(0);
    expect(after.used).toBeLessThanOrEqual(after.issued);
    for (const name of ['a.caibx', 'b.caibx']) {
      const idx = after.indexes.find((i) => i.image === name);
      expect(idx?.issued, `${name} got no readahead: ${JSON.stringify(after.indexes)}`).toBeGreaterThan(0);
      expect(idx?.used).toBeGreaterThan(0);
    }
    // Most of what was fetched ahead was then asked for: the readahead followed each client's own index.
    expect(after.used).toBeGreaterThanOrEqual(after.issued * 0.8);
  }, 120_000);

  it('a random chunk reader triggers no readahead', async () => {
    const index = parseIndex('a.caibx', await readFile(path.join(work, 'a.caibx')));
    const digests = [...new Set(Array.from({ length: index.chunkCount }, (_, i) => index.chunkDigest(i)))];
    // A fixed shuffle (mulberry32), so the run is reproducible.
    let seed = 7;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let i = digests.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [digests[i], digests[j]] = [digests[j] as string, digests[i] as string];
    }
    const before = await readahead();
    for (const d of digests.slice(0, 150)) {
      const res = await fetch(`${stack.gateway()}/v1/stores/cas/chunks/${d}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const after = await readahead();
    expect(after.issued - before.issued).toBe(0);
    expect(after.present - before.present).toBe(0);
  }, 60_000);

  it('a client whose index Larder does not know is served as before, with no readahead', async () => {
    const before = await readahead();
    await extract('c');
    const after = await readahead();
    expect(after.issued - before.issued).toBe(0);
    expect(after.present - before.present).toBe(0);
  }, 60_000);
});
