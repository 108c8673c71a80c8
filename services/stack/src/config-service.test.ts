import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { resolveDatastore } from '@larder/config';
import { encodeChunk } from '@larder/formats';
import { chunkObjectKey, ensureBucket, putObjectBytes, s3ClientFor } from '@larder/s3';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

// Five services (cache-index, 2 chunk-fetchers, 2 gateways), each with its own ConfigCache on its own
// NATS connection, and the config-service on <dir>/config/larder.yaml; a short TTL for hand edits.
const gatewayMain = fileURLToPath(new URL('../../gateway/dist/main.js', import.meta.url));
let stack: TestStack;
let file: string;
const TTL = 300;
beforeAll(async () => {
  stack = await startTestStack({ configService: true, configTtlMs: TTL, fetchers: 2, gateways: 2 });
  file = stack.configService()?.file as string;
});
afterAll(() => stack?.cleanup());
afterEach(() => {
  delete process.env.EDITOR;
  delete process.env.VISUAL;
});

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const caches = () => Object.values(stack.configCaches);
const generation = () => stack.configService()?.generation ?? -1;
const everyService = (what: string, gen: number) => waitFor(`${what}: every service on generation ${gen}`, () => caches().every((c) => c.generation === gen));
const status = async (g = 0) => (await (await fetch(`${stack.gateway(g)}/v1/status`)).json()) as { config: Record<string, unknown> | null; capacityBytes: number };
const editFile = async (edit: (doc: ReturnType<typeof parseDocument>) => void) => {
  const doc = parseDocument(await readFile(file, 'utf8'));
  edit(doc);
  await writeFile(file, doc.toString());
};

/** Put a chunk into a datastore as the config in force resolves it (creating its bucket). */
async function putChunk(store: string) {
  const ds = resolveDatastore(stack.configCaches['gateway-0']!.current(), store);
  if (!ds) throw new Error(`no datastore ${store}`);
  await ensureBucket(s3ClientFor(ds), ds.bucket);
  const { digest, bytes } = encodeChunk('pbs', randomBytes(4000));
  await putObjectBytes(s3ClientFor(ds), ds.bucket, chunkObjectKey(ds, digest), bytes);
  return { digest, bytes };
}

describe('config-service in the stack', () => {
  it('runs six services on generation 1 and shows it in /v1/status', async () => {
    expect(Object.keys(stack.configCaches).sort()).toEqual(['cache-index', 'chunk-fetcher-0', 'chunk-fetcher-1', 'gateway-0', 'gateway-1', 'gc-worker']);
    expect(generation()).toBe(1);
    await everyService('start', 1);
    const s = await status();
    expect(s.config).toMatchObject({ generation: 1, configServiceOnline: true, restartRequired: [] });
  });

  it('a CLI change reaches every service: a datastore added without a restart', async () => {
    const { digest, bytes } = await putChunk('demo');
    const url = (g: number) => `${stack.gateway(g)}/v1/stores/extra/chunks/${digest}`;
    expect((await fetchBytes(url(0))).status).toBe(404);
    const r = await stack.cli(['config', 'set', 'datastores.extra', `{layout: pbs, bucket: ${stack.ns}-extra}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const gen = generation();
    expect(r.stdout).toMatch(new RegExp(`generation ${gen}: changed datastores\\.extra`));
    expect(r.stdout).toMatch(/without a restart/);
    await everyService('config set', gen);
    for (const c of caches()) expect(c.datastore('extra')?.bucket).toBe(`${stack.ns}-extra`);
    // The new datastore serves at once, through both gateways and the fetchers.
    const extra = await putChunk('extra');
    for (const g of [0, 1]) {
      const res = await fetchBytes(`${stack.gateway(g)}/v1/stores/extra/chunks/${extra.digest}`);
      expect(res.status).toBe(200);
      expect(res.body.equals(extra.bytes)).toBe(true);
    }
    expect(bytes.length).toBeGreaterThan(0);
    expect((await status(1)).config).toMatchObject({ generation: gen });

    const conc = await stack.cli(['config', 'set', 'fetcher.concurrency', '3']);
    expect(conc.code).toBe(0);
    await everyService('fetcher.concurrency', generation());
    expect(stack.configCaches['chunk-fetcher-1']?.current().fetcher.concurrency).toBe(3);
    const got = await stack.cli(['config', 'get', 'fetcher.concurrency']);
    expect(got.stdout.trim()).toBe('3');
    expect((await readFile(file, 'utf8')).startsWith('# test stack config')).toBe(true);
  });

  it('says when a change needs a restart, in the CLI answer and in /v1/status', async () => {
    const r = await stack.cli(['config', 'set', 'gateway.nbdListen', '127.0.0.1:18999']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/restart required for gateway\.nbdListen/);
    await everyService('restart-required change', generation());
    await waitFor('status says restart required', async () => JSON.stringify((await status()).config?.restartRequired) === '["gateway.nbdListen"]');
    const back = await stack.cli(['config', 'set', 'gateway.nbdListen', '127.0.0.1:0']);
    expect(back.code).toBe(0);
    await waitFor('restart flag cleared', async () => JSON.stringify((await status()).config?.restartRequired) === '[]');
  });

  it('a hand edit reaches every service within the TTL', async () => {
    const before = generation();
    await editFile((doc) => doc.setIn(['capacity'], '3GiB'));
    await waitFor('hand edit in every service', () => caches().every((c) => c.current().capacity === 3 * 2 ** 30));
    expect(generation()).toBe(before + 1);
    await everyService('hand edit', before + 1);
    expect((await status()).capacityBytes).toBe(3 * 2 ** 30);
    const hist = await stack.cli(['config', 'history']);
    expect(hist.code).toBe(0);
    expect(hist.stdout).toMatch(new RegExp(`\\s${before + 1}\\s.*file\\s+capacity`));
  });

  it('an invalid edit is refused, by CLI or by hand, and nothing changes', async () => {
    const before = generation();
    const text = await readFile(file, 'utf8');
    const bad = await stack.cli(['config', 'set', 'datastores.demo.bucket', 'Not_A_Bucket']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/datastores\.demo\.bucket: not a valid S3 bucket name/);
    expect(bad.stderr).toMatch(/nothing changed/);
    expect(await readFile(file, 'utf8')).toBe(text);

    await writeFile(file, text.replace(/^capacity: .*$/m, 'capacity: plenty'));
    await waitFor('hand edit refused', () => /capacity: not a size/.test(stack.configService()?.lastError() ?? ''));
    const get = await stack.cli(['config', 'get']);
    expect(get.stderr).toMatch(/not in force: .*capacity/);
    await new Promise((r) => setTimeout(r, 3 * TTL));
    expect(generation()).toBe(before);
    for (const c of caches()) expect(c.generation).toBe(before);
    for (const c of caches()) expect(c.current().capacity).toBe(3 * 2 ** 30);
    const { digest, bytes } = await putChunk('demo');
    const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
    expect(res.status).toBe(200);
    expect(res.body.equals(bytes)).toBe(true);
    await writeFile(file, text);
    await waitFor('error cleared', () => stack.configService()?.lastError() === undefined);
    expect(generation()).toBe(before);
  });

  it('larder config edit validates before applying', async () => {
    const before = generation();
    process.env.EDITOR = `sed -i -e 's/^capacity: .*$/capacity: nonsense/'`;
    const bad = await stack.cli(['config', 'edit']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/nothing changed: edited config: capacity: not a size/);
    const kept = /your edit is kept in (\S+)\)/.exec(bad.stderr)?.[1];
    expect(kept && (await readFile(kept, 'utf8'))).toMatch(/^capacity: nonsense$/m);
    await rm(path.dirname(kept as string), { recursive: true, force: true });
    expect(generation()).toBe(before);
    process.env.EDITOR = `sed -i -e 's/^capacity: .*$/capacity: 4GiB # edited/'`;
    const ok = await stack.cli(['config', 'edit']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(new RegExp(`generation ${before + 1}: changed capacity`));
    await everyService('config edit', before + 1);
    expect(await readFile(file, 'utf8')).toMatch(/^capacity: 4GiB # edited$/m);
  });

  it('config-service stopped and started again while the gateway keeps serving', async () => {
    const before = generation();
    const hit = await putChunk('extra');
    expect((await fetchBytes(`${stack.gateway()}/v1/stores/extra/chunks/${hit.digest}`)).status).toBe(200);
    await stack.stopConfigService();
    await waitFor('gateway says the config-service is offline', async () => (await status()).config?.configServiceOnline === false);
    await waitFor('every service says so', () => caches().every((c) => !c.status().configServiceOnline));

    // Serving goes on with the last good config: hits, misses, the added datastore.
    const again = await fetchBytes(`${stack.gateway(1)}/v1/stores/extra/chunks/${hit.digest}`);
    expect(again.status).toBe(200);
    const miss = await putChunk('extra');
    const res = await fetchBytes(`${stack.gateway()}/v1/stores/extra/chunks/${miss.digest}`);
    expect(res.status).toBe(200);
    expect(res.body.equals(miss.bytes)).toBe(true);
    for (const c of caches()) expect(c.generation).toBe(before);

    const text = await readFile(file, 'utf8');
    const refused = await stack.cli(['config', 'set', 'capacity', '8GiB']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/config-service of namespace \S+ is not running.*Nothing was changed/);
    expect(await readFile(file, 'utf8')).toBe(text);

    await stack.startConfigService();
    expect(generation()).toBe(before);
    await waitFor('every service online again', () => caches().every((c) => c.status().configServiceOnline));
    for (const c of caches()) expect(c.generation).toBe(before);
    const r = await stack.cli(['config', 'set', 'capacity', '8GiB']);
    expect(r.code).toBe(0);
    await everyService('after restart', before + 1);
    expect((await status()).config).toMatchObject({ generation: before + 1, configServiceOnline: true });
  });

  it('a standalone gateway process (runMain) follows the config-service', async () => {
    const child = spawn(process.execPath, [gatewayMain], {
      env: { ...process.env, LARDER_CONFIG: file, LARDER_CONFIG_TTL: `${TTL}ms`, LARDER_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /Larder gateway: (\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${out}`)));
      });
      const stores = async () => ((await (await fetch(`${url}/v1/status`)).json()) as { datastores: { name: string }[] }).datastores.map((d) => d.name);
      expect(await stores()).toContain('extra');
      const r = await stack.cli(['config', 'set', 'datastores.standalone', `{layout: casync, bucket: ${stack.ns}-standalone}`]);
      expect(r.code).toBe(0);
      await waitFor('the standalone gateway sees the new datastore', async () => (await stores()).includes('standalone'));
      const unset = await stack.cli(['config', 'unset', 'datastores.standalone']);
      expect(unset.code).toBe(0);
      await waitFor('the standalone gateway drops it', async () => !(await stores()).includes('standalone'));
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
