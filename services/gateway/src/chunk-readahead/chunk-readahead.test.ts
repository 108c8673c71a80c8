import { createHash } from 'node:crypto';
import { parseConfig, resolveDatastore, type Config } from '@larder/config';
import { CA_FORMAT_SHA512_256, CAIBX_DEFAULT_FEATURE_FLAGS, digestFromHex, parseIndex, writeCaibx } from '@larder/formats';
import { describe, expect, it, vi } from 'vitest';
import { RecentChunks, type ImageInfo } from '../images/image-catalog.js';
import { ChunkReadahead, MAX_INFLIGHT, START_WINDOW } from './chunk-readahead.js';
import { IndexMap } from './index-map.js';
import { MAX_PER_KEY, PositionTable } from './position-table.js';

const digestOf = (label: string) => createHash('sha256').update(label).digest('hex');

function config(indexMapSize = 64 * 2 ** 20): Config {
  return parseConfig({ images: { indexMapSize, indexTtl: '10m' }, datastores: { s: { layout: 'casync', bucket: 'bkt', digest: 'sha256' } } });
}

/** A parsed .caibx of 64 KiB chunks with these digests. */
function image(cfg: Config, name: string, digests: string[]): ImageInfo {
  const bytes = writeCaibx({
    entries: digests.map((d, i) => ({ end: (i + 1) * 65536, digest: digestFromHex(d) })),
    featureFlags: CAIBX_DEFAULT_FEATURE_FLAGS & ~CA_FORMAT_SHA512_256,
  });
  const index = parseIndex(name, bytes);
  const ds = resolveDatastore(cfg, 's');
  if (!ds) throw new Error('no datastore');
  return { store: 's', name, ds, index, size: index.size, etag: '"x"', indexBytes: bytes, recent: new RecentChunks() };
}

/** An engine over these indexes of datastore `s`; `fetched` lists every chunk fetched ahead (none is on the volume). */
async function engine(indexes: Record<string, string[]>, cfg = config()) {
  const images = Object.fromEntries(Object.entries(indexes).map(([name, d]) => [name, image(cfg, name, d)]));
  const map = new IndexMap(
    () => cfg,
    { open: (_store, name) => Promise.resolve(images[name] as ImageInfo) },
    () => Promise.resolve(Object.values(images).map((i) => ({ name: i.name, indexBytes: i.indexBytes.length }))),
  );
  const fetched: string[] = [];
  const ra = new ChunkReadahead(
    map,
    (_store, digest) => {
      fetched.push(digest);
      return Promise.resolve();
    },
    () => cfg,
  );
  ra.observe('s', digestOf('warm-up'), {});
  if (cfg.images.indexMapSize > 0) await vi.waitFor(() => expect(map.stats().indexes + map.stats().indexesSkipped).toBe(Object.keys(indexes).length));
  return { ra, map, fetched };
}

const seq = (label: string, n: number) => Array.from({ length: n }, (_, i) => digestOf(`${label}-${i}`));

describe('PositionTable', () => {
  it('finds every entry of a key, keeps at most MAX_PER_KEY per key, and grows', () => {
    const t = new PositionTable(16);
    for (let i = 0; i < 1000; i++) expect(t.insert(i * 7919, 0, i)).toBe(true);
    for (let i = 0; i < MAX_PER_KEY + 3; i++) t.insert(42, i, 5000 + i);
    const found: number[][] = [];
    t.forEach(42, (slot, pos) => found.push([slot, pos]));
    expect(found).toHaveLength(MAX_PER_KEY);
    const one: number[] = [];
    t.forEach(999 * 7919, (_s, pos) => one.push(pos));
    expect(one).toEqual([999]);
    expect(t.bytes).toBeGreaterThanOrEqual(Math.ceil(t.size / 0.7) * 12);
  });
});

describe('ChunkReadahead', () => {
  it('a client walking an index from its start gets the next chunks fetched ahead from its second request, in a window that grows; each chunk once', async () => {
    const a = seq('a', 600);
    const { ra, fetched } = await engine({ 'a.caibx': a });
    const client = {};
    ra.observe('s', a[0] as string, client);
    expect(fetched).toEqual([]);
    ra.observe('s', a[1] as string, client);
    expect(fetched).toEqual(a.slice(2, 2 + START_WINDOW));
    for (let i = 2; i < 40; i++) ra.observe('s', a[i] as string, client);
    // The fetches have not finished yet: the gateway's readahead budget holds it at MAX_INFLIGHT.
    expect(fetched).toHaveLength(MAX_INFLIGHT);
    await new Promise((r) => setImmediate(r));
    ra.observe('s', a[40] as string, client);
    expect(fetched.length).toBeGreaterThan(MAX_INFLIGHT);
    expect(new Set(fetched).size).toBe(fetched.length);
    expect(fetched).toEqual(a.slice(2, 2 + fetched.length));
    const s = ra.stats();
    expect(s.issued).toBe(fetched.length);
    expect(s.used).toBe(39);
    expect(s.sequentialStreams).toBe(1);
  });

  it('follows a client that skips repeated chunks (as casync does), and fetches each distinct chunk once', async () => {
    const zero = digestOf('zero');
    const a = [...seq('x', 5), ...Array<string>(300).fill(zero), ...seq('y', 20), zero, zero, ...seq('z', 5)];
    const { ra, fetched } = await engine({ 'a.caibx': a });
    const client = {};
    // casync asks for each distinct chunk once, in order: the zero run is skipped after its first chunk.
    for (const d of [...seq('x', 5), zero, ...seq('y', 20), ...seq('z', 5)]) ra.observe('s', d, client);
    expect(fetched.filter((d) => d === zero)).toHaveLength(1);
    expect(new Set(fetched)).toEqual(new Set([...seq('x', 5).slice(2), zero, ...seq('y', 20), ...seq('z', 5)]));
  });

  it('a walk that starts inside an index needs two sequential steps before readahead starts', async () => {
    const a = seq('m', 100);
    const { ra, fetched } = await engine({ 'a.caibx': a });
    const client = {};
    ra.observe('s', a[50] as string, client);
    ra.observe('s', a[51] as string, client);
    expect(fetched).toEqual([]);
    ra.observe('s', a[52] as string, client);
    expect(fetched).toEqual(a.slice(53, 53 + START_WINDOW));
  });

  it("a datastore's first request, made while its indexes are being mapped, is placed once they are", async () => {
    const cfg = config();
    const a = seq('first', 100);
    const img = image(cfg, 'a.caibx', a);
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    const map = new IndexMap(
      () => cfg,
      { open: () => opened.then(() => img) },
      () => Promise.resolve([{ name: img.name, indexBytes: img.indexBytes.length }]),
    );
    const fetched: string[] = [];
    const ra = new ChunkReadahead(
      map,
      (_store, digest) => (fetched.push(digest), Promise.resolve()),
      () => cfg,
    );
    const client = {};
    ra.observe('s', a[0] as string, client);
    open();
    await vi.waitFor(() => expect(map.stats().indexes).toBe(1));
    await new Promise((r) => setImmediate(r));
    // The first request was placed when the map became ready: the second continues the walk from the start.
    ra.observe('s', a[1] as string, client);
    expect(fetched).toEqual(a.slice(2, 2 + START_WINDOW));
  });

  it('a random reader triggers nothing', async () => {
    const a = seq('r', 2000);
    const { ra, fetched } = await engine({ 'a.caibx': a });
    const client = {};
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      ra.observe('s', a[x % a.length] as string, client);
    }
    expect(fetched).toEqual([]);
    expect(ra.stats().sequentialStreams).toBe(0);
  });

  it('two clients on two indexes at once each get their own readahead; a chunk in both follows the index the client walks', async () => {
    const shared = seq('shared', 3);
    const a = [...seq('a', 10), ...shared, ...seq('a2', 10)];
    const b = [...seq('b', 10), ...shared, ...seq('b2', 10)];
    const { ra, fetched } = await engine({ 'a.caibx': a, 'b.caibx': b });
    const ca = {};
    const cb = {};
    for (let i = 0; i < 16; i++) {
      ra.observe('s', a[i] as string, ca);
      ra.observe('s', b[i] as string, cb);
    }
    expect(fetched).toEqual(expect.arrayContaining([...seq('a2', 10), ...seq('b2', 10)]));
    const per = Object.fromEntries(ra.stats().indexes.map((i) => [i.image, i]));
    expect(per['a.caibx']?.used).toBeGreaterThan(0);
    expect(per['b.caibx']?.used).toBeGreaterThan(0);
  });

  it('a new connection continuing a walk keeps its readahead', async () => {
    const a = seq('c', 100);
    const { ra, fetched } = await engine({ 'a.caibx': a });
    for (let i = 0; i < 10; i++) ra.observe('s', a[i] as string, { connection: i });
    expect(fetched.length).toBeGreaterThan(10);
  });

  it('digests in no known index, and a map budget of 0, trigger nothing', async () => {
    const a = seq('k', 50);
    const { ra, fetched } = await engine({ 'a.caibx': a });
    const client = {};
    for (const d of seq('unknown', 50)) ra.observe('s', d, client);
    expect(fetched).toEqual([]);
    const off = await engine({ 'a.caibx': a }, config(0));
    for (const d of a) off.ra.observe('s', d, client);
    expect(off.fetched).toEqual([]);
    expect(off.ra.stats().enabled).toBe(false);
  });

  it('an index that does not fit the map budget is skipped and counted', async () => {
    const { map } = await engine({ 'a.caibx': seq('big', 2000), 'b.caibx': seq('small', 10) }, config(40_000));
    const s = map.stats();
    expect(s.indexes).toBe(1);
    expect(s.indexesSkipped).toBe(1);
    expect(s.usedBytes).toBeLessThanOrEqual(40_000);
  });
});
