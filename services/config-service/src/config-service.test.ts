import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BusError } from '@larder/bus';
import { requestConfig, requestConfigChange, requestConfigHistory, ConfigCache } from '@larder/config-cache';
import { startConfigService } from './config-service.js';
import { ConfigChangeError } from './errors.js';
import { loadConfigOrLastGood } from './last-good.js';
import { testSetup, waitFor } from './test-helpers.js';
import type { ConfigService } from './types.js';

const TEXT = `# Larder test config
capacity: 2GiB # budget
fetcher:
  concurrency: 16
datastores:
  demo: { layout: pbs, bucket: larder-demo }
`;

let t: Awaited<ReturnType<typeof testSetup>>;
let svc: ConfigService | undefined;
const start = async (ttlMs = 60_000) => {
  svc = await startConfigService({ nc: await t.connect(), file: t.file, namespace: t.ns, ttlMs });
  return svc;
};

beforeEach(async () => {
  t = await testSetup(TEXT);
});
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
  await t.cleanup();
});

describe('config-service', () => {
  it('serves generation 1, applies a set, and every cache reloads once', async () => {
    const s = await start();
    expect(s.generation).toBe(1);
    const caches = await t.caches(3, 60_000);
    for (const c of caches) expect(c.generation).toBe(1);
    expect(caches[0]?.datastore('demo')?.bucket).toBe('larder-demo');
    const reloads = caches.map(() => 0);
    caches.forEach((c, i) => c.onChange(() => reloads[i]!++));

    const r = await requestConfigChange(await t.connect(), t.ns, { op: 'set', path: 'capacity', value: '3GiB' });
    expect(r).toMatchObject({ generation: 2, unchanged: false, changed: ['capacity'], restartRequired: [] });
    await waitFor('every cache on generation 2', () => caches.every((c) => c.generation === 2));
    for (const c of caches) expect(c.current().capacity).toBe(3 * 2 ** 30);
    expect(reloads).toEqual([1, 1, 1]);

    const text = await readFile(t.file, 'utf8');
    expect(text).toContain('capacity: 3GiB # budget');
    expect(text).toContain('# Larder test config');
    const hist = await requestConfigHistory(await t.connect(), t.ns);
    expect('entries' in hist && hist.entries.map((e) => [e.generation, e.source])).toEqual([
      [1, 'start'],
      [2, 'cli'],
    ]);
    const first = await requestConfigHistory(await t.connect(), t.ns, { generation: 1 });
    expect('text' in first && first.text).toBe(TEXT);
    expect((await readdir(s.historyDir)).sort()).toEqual(['00000001.json', '00000001.yaml', '00000002.json', '00000002.yaml', 'state.json']);
    // The same value again is no new generation.
    expect(await s.apply({ op: 'set', path: 'capacity', value: '3GiB' })).toMatchObject({ generation: 2, unchanged: true });
  });

  it('adds and removes a datastore; the hot path sees it', async () => {
    const s = await start();
    const [cache] = (await t.caches(1, 60_000)) as [ConfigCache];
    await s.apply({ op: 'set', path: 'datastores.extra', value: '{layout: casync, bucket: extra-bucket, prefix: /p/}' });
    await waitFor('extra datastore', () => cache.datastore('extra') !== undefined);
    expect(cache.datastore('extra')).toMatchObject({ layout: 'casync', bucket: 'extra-bucket', prefix: 'p' });
    await s.apply({ op: 'unset', path: 'datastores.extra' });
    await waitFor('extra datastore removed', () => cache.datastore('extra') === undefined);
    expect(cache.generation).toBe(3);
  });

  it('refuses an invalid change, naming the field, and changes nothing', async () => {
    const s = await start();
    const [cache] = (await t.caches(1, 60_000)) as [ConfigCache];
    await expect(s.apply({ op: 'set', path: 'datastores.demo.bucket', value: 'Bad_Bucket' })).rejects.toThrow(ConfigChangeError);
    const err = await requestConfigChange(await t.connect(), t.ns, { op: 'set', path: 'fetcher.concurrency', value: '0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusError);
    expect((err as BusError).status).toBe(400);
    expect((err as BusError).message).toMatch(/fetcher\.concurrency/);
    const unknown = await s.apply({ op: 'set', path: 'capacty', value: '1GiB' }).catch((e: Error) => e);
    expect((unknown as Error).message).toMatch(/capacty/);
    expect(await readFile(t.file, 'utf8')).toBe(TEXT);
    expect(s.generation).toBe(1);
    expect(cache.generation).toBe(1);
  });

  it('picks up a hand edit within its TTL and refuses an invalid one', async () => {
    const s = await start(200);
    const caches = await t.caches(2, 200);
    await writeFile(t.file, TEXT.replace('concurrency: 16', 'concurrency: 7'));
    await waitFor('hand edit in every cache', () => caches.every((c) => c.current().fetcher.concurrency === 7));
    expect(s.generation).toBe(2);
    const hist = await s.history();
    expect(hist.at(-1)).toMatchObject({ generation: 2, source: 'file', changed: ['fetcher.concurrency'] });

    await writeFile(t.file, TEXT.replace('capacity: 2GiB', 'capacity: lots'));
    await waitFor('the bad edit refused', () => /capacity/.test(s.lastError() ?? ''));
    const snap = await requestConfig(await t.connect(), t.ns);
    expect(!snap.unchanged && snap.lastError).toMatch(/capacity: not a size/);
    expect(s.generation).toBe(2);
    await new Promise((r) => setTimeout(r, 500));
    for (const c of caches) expect(c.generation).toBe(2);
    for (const c of caches) expect(c.current().fetcher.concurrency).toBe(7);

    // A CLI set on top of the refused edit names it; fixing the file clears the error.
    await expect(s.apply({ op: 'set', path: 'fetcher.retries', value: '2' })).rejects.toThrow(/capacity.*refused before/);
    await writeFile(t.file, TEXT.replace('concurrency: 16', 'concurrency: 7'));
    await waitFor('error cleared', () => s.lastError() === undefined);
    expect(s.generation).toBe(2);
  });

  it('keeps its generation across a restart; a hand edit while down is a new generation', async () => {
    let s = await start();
    await s.apply({ op: 'set', path: 'capacity', value: '5GiB' });
    const [cache] = (await t.caches(1, 60_000)) as [ConfigCache];
    let reloads = 0;
    cache.onChange(() => reloads++);
    await s.stop();
    s = await start();
    expect(s.generation).toBe(2);
    await cache.refresh();
    expect(reloads).toBe(0);
    await s.stop();
    await writeFile(t.file, (await readFile(t.file, 'utf8')).replace('5GiB', '6GiB'));
    s = await start();
    expect(s.generation).toBe(3);
    await waitFor('cache on generation 3 from the start broadcast', () => cache.generation === 3);
    expect(cache.current().capacity).toBe(6 * 2 ** 30);
  });

  it('serves the last good version when the file is invalid at start', async () => {
    let s = await start();
    await s.stop();
    await writeFile(t.file, 'capacity: [');
    expect((await loadConfigOrLastGood(t.file, { env: {} })).capacity).toBe(2 * 2 ** 30);
    s = await start();
    expect(s.generation).toBe(1);
    expect(s.lastError()).toMatch(/not valid YAML/);
    expect(s.snapshot().text).toBe(TEXT);
  });

  it('reports changes that need a restart', async () => {
    const s = await start();
    const [cache] = (await t.caches(1, 60_000)) as [ConfigCache];
    const r = await s.apply({ op: 'set', path: 'gateway.listen', value: '127.0.0.1:18780' });
    expect(r.restartRequired).toEqual(['gateway.listen']);
    await waitFor('restart flagged', () => cache.status().restartRequired.includes('gateway.listen'));
    await s.apply({ op: 'unset', path: 'gateway' });
    await waitFor('restart flag cleared', () => cache.status().restartRequired.length === 0);
  });

  it('refuses a whole-file replace based on an old generation', async () => {
    const s = await start();
    await s.apply({ op: 'set', path: 'capacity', value: '3GiB' });
    await expect(s.apply({ op: 'replace', text: TEXT, baseGeneration: 1 })).rejects.toMatchObject({ status: 409 });
    const r = await s.apply({ op: 'replace', text: TEXT.replace('2GiB', '4GiB'), baseGeneration: 2 });
    expect(r).toMatchObject({ generation: 3, changed: ['capacity'] });
  });

  it('caches keep the last good config while the config-service is down', async () => {
    const s = await start();
    await s.apply({ op: 'set', path: 'capacity', value: '3GiB' });
    const [cache] = (await t.caches(1, 100)) as [ConfigCache];
    await s.stop();
    svc = undefined;
    await waitFor('offline', () => !cache.status().configServiceOnline);
    expect(cache.status()).toMatchObject({ generation: 2, configServiceOnline: false });
    expect(cache.status().lastError).toMatch(/no service is running/);
    expect(cache.current().capacity).toBe(3 * 2 ** 30);
    await start();
    await waitFor('online again', () => cache.status().configServiceOnline);
    expect(cache.generation).toBe(2);
  });

  it('a cache without an initial config needs the config-service', async () => {
    await expect(ConfigCache.start({ nc: await t.connect(), namespace: t.ns, ttlMs: 1000 })).rejects.toThrow(/did not answer/);
    expect(path.basename(t.file)).toBe('larder.yaml');
  });
});
