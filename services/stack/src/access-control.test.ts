import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importRawImage } from '@larder/datastore';
import { hashToken, type Config } from '@larder/config';
import { startGateway } from '@larder/gateway';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

const ADMIN = 'admin-token-access-test-01';
const READER = 'read-token-access-test-02';
const DEMO_ONLY = 'demo-token-access-test-03';
const S3_SECRET = 'endpoint-secret-access-test-04';

let stack: TestStack;
let digest: string;
let casDigest: string;

beforeAll(async () => {
  stack = await startTestStack({
    configService: true,
    config: {
      tokens: [
        { name: 'ops', token: ADMIN, scope: 'admin' },
        { name: 'reader', sha256: hashToken(READER) },
        { name: 'demo-reader', token: DEMO_ONLY, datastores: ['demo'] },
      ],
      accessKeys: [{ accessKeyId: 'host1', secretAccessKey: S3_SECRET }],
    },
  });
  digest = (await stack.putChunk('demo', randomBytes(50_000))).digest;
  casDigest = (await stack.putChunk('cas', randomBytes(50_000))).digest;
  const raw = path.join(stack.dir, 'small.raw');
  await writeFile(raw, randomBytes(3 * 2 ** 20 + 17));
  await importRawImage({ ds: stack.ds('demo'), file: raw, name: 'vm/1/disk.img' });
}, 60_000);
afterAll(() => stack?.cleanup());

/** Every gateway route that needs a token, with the datastore it touches (none: node-wide). */
const routes = (): { method: string; path: string; store?: string }[] => [
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/v1/status' },
  { method: 'GET', path: `/v1/stores/demo/chunks/${digest}`, store: 'demo' },
  { method: 'HEAD', path: `/v1/stores/demo/chunks/${digest}`, store: 'demo' },
  { method: 'GET', path: `/casync/cas/${casDigest.slice(0, 4)}/${casDigest}.cacnk`, store: 'cas' },
  { method: 'GET', path: '/v1/stores/demo/images/', store: 'demo' },
  { method: 'GET', path: '/v1/stores/demo/indexes/vm/1/disk.img.fidx', store: 'demo' },
  { method: 'GET', path: '/v1/stores/demo/images/vm/1/disk.img.fidx', store: 'demo' },
  { method: 'HEAD', path: '/v1/stores/demo/images/vm/1/disk.img.fidx', store: 'demo' },
];

const call = (method: string, p: string, token?: string) => fetchBytes(`${stack.gateway()}${p}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

async function counters(): Promise<{ chunkCount: unknown; misses: unknown; hits: unknown }> {
  const s = JSON.parse((await call('GET', '/v1/status', ADMIN)).body.toString()) as { chunkCount: unknown; misses: unknown; hits: unknown };
  return { chunkCount: s.chunkCount, misses: s.misses, hits: s.hits };
}

describe('gateway access control', () => {
  it('refuses every route without a token or with an unknown one (401, WWW-Authenticate), and nothing changes', async () => {
    const before = await counters();
    expect(before.chunkCount).toBe(0);
    for (const r of routes()) {
      for (const token of [undefined, 'not-a-configured-token', hashToken(READER)]) {
        const res = await call(r.method, r.path, token);
        expect(res.status, `${r.method} ${r.path} with ${token ?? 'no token'}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    }
    expect(await counters()).toEqual(before);
  });

  it('refuses a token scoped to other datastores (403), and nothing changes', async () => {
    const before = await counters();
    const cas = routes().filter((r) => r.store === 'cas');
    expect(cas.length).toBeGreaterThan(0);
    for (const r of cas) expect((await call(r.method, r.path, DEMO_ONLY)).status, `${r.method} ${r.path}`).toBe(403);
    expect(await counters()).toEqual(before);
  });

  it('serves every route to a read token; a datastore-scoped token gets its datastore', async () => {
    for (const r of routes()) expect((await call(r.method, r.path, READER)).status, `${r.method} ${r.path}`).toBe(200);
    for (const r of routes().filter((x) => x.store !== 'cas')) expect((await call(r.method, r.path, DEMO_ONLY)).status, `${r.method} ${r.path}`).toBe(200);
  });

  it('leaves the status page and health check open; the page holds no data', async () => {
    expect((await call('GET', '/')).status).toBe(200);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/')).body.toString()).toContain('sessionStorage');
  });

  it('shows no secret in /v1/status, larder config get or the served config', async () => {
    const status = (await call('GET', '/v1/status', ADMIN)).body.toString();
    const get = await stack.cli(['config', 'get']);
    const json = await stack.cli(['config', 'get', '--json']);
    const one = await stack.cli(['config', 'get', 'tokens'], { LARDER_TOKEN: ADMIN });
    expect(get.code, get.stderr).toBe(0);
    expect(json.code, json.stderr).toBe(0);
    expect(one.code, one.stderr).toBe(0);
    expect(get.stdout).toContain('<redacted>');
    for (const text of [status, get.stdout, get.stderr, json.stdout, one.stdout]) {
      for (const secret of [ADMIN, hashToken(READER), DEMO_ONLY, S3_SECRET]) expect(text).not.toContain(secret);
    }
  });

  it('the CLI sends LARDER_TOKEN; without it or with a read token it says what is wrong and changes nothing', async () => {
    const gen = stack.configService()?.generation;
    const none = await stack.cli(['config', 'set', 'capacity', '8MiB']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/LARDER_TOKEN/);
    const read = await stack.cli(['config', 'set', 'capacity', '8MiB'], { LARDER_TOKEN: READER });
    expect(read.code).toBe(1);
    expect(read.stderr).toMatch(/403|not an admin token/);
    expect(stack.configService()?.generation).toBe(gen);
    expect(stack.config.capacity).toBe(2 ** 30);
    const warm = await stack.cli(['warm', 'demo/vm/1/disk.img.fidx', '--retry-for', '0']);
    expect(warm.code).toBe(1);
    expect(warm.stderr).toMatch(/401.*LARDER_TOKEN/);
    const warmed = await stack.cli(['warm', 'demo/vm/1/disk.img.fidx'], { LARDER_TOKEN: READER });
    expect(warmed.code, warmed.stderr).toBe(0);
    const admin = await stack.cli(['config', 'set', 'fetcher.retries', '3'], { LARDER_TOKEN: ADMIN });
    expect(admin.code, admin.stderr).toBe(0);
    expect(admin.stdout).toMatch(/generation/);
  });
});

describe('gateway listen address', () => {
  it('refuses a network address without tokens (or NBD without nbdTls), unless gateway.allowOpen', async () => {
    const open = (c: Config, listen: string, nbdListen: string | false) => startGateway({ ...stack.deps, config: () => c, listen, nbdListen, s3Listen: false });
    const noTokens: Config = { ...stack.config, tokens: [] };
    await expect(open(noTokens, '0.0.0.0:0', false)).rejects.toThrow(/gateway\.listen 0\.0\.0\.0:0 is not a loopback address and no tokens are configured.*allowOpen/);
    await expect(open(noTokens, '[::]:0', false)).rejects.toThrow(/no tokens/);
    await expect(open(stack.config, '127.0.0.1:0', '0.0.0.0:0')).rejects.toThrow(/nbdListen 0\.0\.0\.0 .*nbdTls/);
    const withTokens = await open(stack.config, '0.0.0.0:0', false);
    await withTokens.stop();
    const allowed = await open({ ...noTokens, gateway: { ...noTokens.gateway, allowOpen: true } }, '0.0.0.0:0', false);
    expect((await fetchBytes(`http://127.0.0.1:${allowed.port}/v1/status`)).status).toBe(200);
    await allowed.stop();
    const loopback = await open(noTokens, '127.0.0.1:0', false);
    expect((await fetchBytes(`${loopback.url}/v1/status`)).status).toBe(200);
    await loopback.stop();
  });
});

// Debian's chromium, as in status-page.test.ts.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('status page with tokens', () => {
  it('asks for a token, asks again for a wrong one, keeps it in sessionStorage and sends it as Bearer', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
    try {
      const page = await browser.newPage();
      const answers = ['a-wrong-token-for-the-page', READER];
      const asked: string[] = [];
      page.on('dialog', (d) => {
        asked.push(d.message());
        void d.accept(answers.shift() ?? '');
      });
      const sent: (string | undefined)[] = [];
      page.on('request', (r) => {
        if (r.url().endsWith('/v1/status')) sent.push(r.headers().authorization);
      });
      await page.goto(`${stack.gateway()}/`, { timeout: 15_000 });
      await expect.poll(async () => Number((await page.getAttribute('body', 'data-updates')) ?? 0), { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(1);
      expect(asked).toHaveLength(2);
      expect(asked[0]).toMatch(/needs a token/);
      expect(await page.evaluate("sessionStorage.getItem('larder-token')")).toBe(READER);
      expect(sent.at(-1)).toBe(`Bearer ${READER}`);
      expect(await page.textContent('#live')).toMatch(/^live/);
    } finally {
      await browser.close();
    }
  });
});
