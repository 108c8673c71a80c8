import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { formatSize } from '@larder/config';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

// Debian's chromium (apt-get install chromium); without it the browser tests cannot run.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);

interface Status {
  capacityBytes: number;
  usedBytes: number;
  chunkCount: number;
  s3Gets: number;
  hits: number;
  nbd: { clients: number; accepted: number; tls: string } | null;
  recentErrors: { status: number; method: string; path: string; message: string }[];
}

let stack: TestStack;
let browser: Browser;
let page: Page;
const requested: string[] = [];

async function status(): Promise<Status> {
  const res = await fetch(`${stack.gateway()}/v1/status`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Status;
}

/** The page's polls so far (the body's data-updates). */
async function updates(): Promise<number> {
  return Number((await page.getAttribute('body', 'data-updates')) ?? 0);
}

/** Wait for the page to poll `/v1/status` again after now. */
async function nextUpdate(): Promise<void> {
  const seen = await updates();
  await expect.poll(updates, { timeout: 10_000, interval: 100 }).toBeGreaterThan(seen);
}

describe.skipIf(!haveChromium)('status page in Chromium', () => {
  beforeAll(async () => {
    stack = await startTestStack({ fetchers: 1 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('request', (r) => requested.push(r.url()));
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.cleanup();
  });

  it('loads from the gateway alone and shows the numbers of /v1/status', async () => {
    const res = await page.goto(`${stack.gateway()}/`, { timeout: 15_000 });
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toMatch(/^text\/html/);
    await expect.poll(updates, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    const s = await status();
    expect(await page.textContent('#capacity')).toBe(formatSize(s.capacityBytes));
    expect(await page.textContent('#used')).toBe(formatSize(s.usedBytes));
    expect(await page.textContent('#s3-gets')).toBe(String(s.s3Gets));
    expect(await page.textContent('#live')).toMatch(/^live/);
    // The gateway's decoded copies on the volume: nothing yet, of a 2 GiB budget, none corrupt.
    expect(await page.locator('#images tr:has-text("decoded on volume") td').textContent()).toBe('0 B of 2.00 GiB · 0 chunks · 0 corrupt · 0 failed writes · 0 scrub passes');
    // No external assets: every request the page made went to the gateway.
    expect(requested.length).toBeGreaterThan(0);
    for (const u of requested) expect(u.startsWith(`${stack.gateway()}/`)).toBe(true);
  });

  it('updates while a cold read runs through the gateway', async () => {
    const before = await status();
    const { digest, bytes } = await stack.putChunk('demo', randomBytes(300_000));
    const got = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`, { signal: AbortSignal.timeout(15_000) });
    expect(got.headers.get('x-larder-cache')).toBe('miss');
    expect((await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`)).headers.get('x-larder-cache')).toBe('hit');
    await expect.poll(() => page.textContent('#s3-gets'), { timeout: 10_000, interval: 100 }).toBe(String(before.s3Gets + 1));
    await nextUpdate();
    const after = await status();
    expect(after.usedBytes).toBeGreaterThanOrEqual(before.usedBytes + bytes.length);
    expect(await page.textContent('#used')).toBe(formatSize(after.usedBytes));
    expect(await page.textContent('#hit-detail')).toContain(`${after.hits} hits`);
    // The throughput chart has drawn a line once two polls have passed.
    expect(await page.locator('#chart-rate polyline').count()).toBeGreaterThan(0);
  });

  it('lists a failed request under recent errors as text, never as markup', async () => {
    const missing = '0'.repeat(64);
    // A datastore name with markup in it, which the error message repeats decoded.
    const res = await fetchBytes(`${stack.gateway()}/v1/stores/${encodeURIComponent('nope<i>x')}/chunks/${missing}`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    const s = await status();
    expect(s.recentErrors[0]?.status).toBe(res.status);
    expect(s.recentErrors[0]?.path).toContain('/chunks/');
    await expect.poll(() => page.textContent('#errors'), { timeout: 10_000, interval: 100 }).toContain('/chunks/');
    expect(await page.textContent('#errors')).toContain(s.recentErrors[0]?.message ?? '?');
    expect(await page.locator('#errors i').count()).toBe(0);
    if (process.env.STATUS_PAGE_SCREENSHOT) await page.screenshot({ path: process.env.STATUS_PAGE_SCREENSHOT, fullPage: true });
  });

  it('counts an NBD client while it is connected', async () => {
    const nbdCell = page.locator('#images tr:has-text("NBD clients") td');
    await expect.poll(() => nbdCell.textContent(), { timeout: 10_000, interval: 100 }).toBe('0');
    const sock = connect({ host: '127.0.0.1', port: stack.gateways[0]?.nbdPort ?? 0 });
    try {
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
      await expect.poll(() => nbdCell.textContent(), { timeout: 10_000, interval: 100 }).toBe('1');
      const { nbd } = await status();
      expect(nbd).toMatchObject({ clients: 1, tls: 'off' });
      expect(nbd?.accepted).toBeGreaterThanOrEqual(1);
    } finally {
      sock.destroy();
    }
    await expect.poll(() => nbdCell.textContent(), { timeout: 10_000, interval: 100 }).toBe('0');
  });

  it('answers HEAD / without a body and keeps /healthz and /v1/status apart', async () => {
    const head = await fetch(`${stack.gateway()}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    expect((await fetch(`${stack.gateway()}/`, { method: 'POST' })).status).toBe(405);
    expect(await (await fetch(`${stack.gateway()}/healthz`)).json()).toEqual({ ok: true });
  });
});
