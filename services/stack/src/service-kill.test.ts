import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importRawImage } from '@larder/datastore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessStack, until, type ProcessStack } from './test-processes.js';

// The standing fault suite, kill -9 part: every service of a node runs as its own process (dist/main.js), and each is
// killed during cold image restores through the gateway (HTTP Range, many 4 MiB chunks; S3 answers slowly so that
// fetches are in flight at the kill).

let stack: ProcessStack;
const images = new Map<string, Buffer>();

/** Chunk files on the volume so far (temp files of writers not counted). */
async function chunksOnVolume(): Promise<number> {
  const root = path.join(stack.config.volume.path, stack.ns, 'chunks');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.tmp-')).length;
}

/** Restore `name` through the gateway with the real CLI. */
function restore(name: string, retryFor: string) {
  const out = path.join(stack.dir, `${name}.restored`);
  const run = stack.cli(['restore', `demo/${name}.fidx`, out, '--parallel', '2', '--retry-for', retryFor]);
  return { ...run, out };
}

/** The restore finished, and its output is the image byte for byte. */
async function expectRestored(r: ReturnType<typeof restore>, name: string): Promise<{ stderr: string }> {
  const done = await r.done;
  expect(done.code, done.stderr).toBe(0);
  expect((await readFile(r.out)).equals(images.get(name) as Buffer)).toBe(true);
  return done;
}

/** A status field of the gateway. */
async function status(): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.gatewayUrl}/v1/status`);
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  stack = await startProcessStack({ fetchers: 2 });
  for (const name of ['fetcher-a', 'fetcher-b', 'gateway', 'index-config']) {
    // 9 chunks: random ones (stored uncompressed, read by position) and a compressible one (decoded).
    const image = Buffer.concat([randomBytes(24 * 2 ** 20), Buffer.alloc(4 * 2 ** 20, `${name} `), randomBytes(5 * 2 ** 20 + 4321)]);
    const file = path.join(stack.dir, `${name}.raw`);
    await writeFile(file, image);
    await importRawImage({ ds: stack.ds('demo'), file, name });
    images.set(name, image);
  }
  // Slow S3: every fetch is in flight for a while, so that a kill finds some.
  stack.s3.setFault({ delayMs: 300 });
}, 120_000);
afterAll(() => stack?.cleanup());

describe('kill -9 of each service during reads', () => {
  it('a chunk-fetcher: zero client errors while another runs, and when a replacement starts right after the last one died', async () => {
    const [a, b] = stack.fetchers;
    if (!a || !b) throw new Error('two fetchers expected');
    // Another fetcher runs: the requests the killed one held are re-sent to it.
    const first = restore('fetcher-a', '0');
    await until('chunks to arrive', async () => (await chunksOnVolume()) >= 2, 60_000);
    await a.kill();
    const restarted = a.start();
    await expectRestored(first, 'fetcher-a');
    await restarted;
    expect(first.stderr()).not.toMatch(/retrying/);

    // Every fetcher dies; one is started right after: the misses wait for it within the request budget.
    const before = await chunksOnVolume();
    const second = restore('fetcher-b', '0');
    await until('chunks to arrive', async () => (await chunksOnVolume()) >= before + 2, 60_000);
    await Promise.all([a.kill(), b.kill()]);
    await a.start();
    await expectRestored(second, 'fetcher-b');
    expect(second.stderr()).not.toMatch(/retrying/);
    await b.start();
  }, 180_000);

  it('the gateway: larder restore retries and completes once a replacement gateway runs on the same port', async () => {
    const before = await chunksOnVolume();
    const r = restore('gateway', '60s');
    await until('chunks to arrive', async () => (await chunksOnVolume()) >= before + 2, 60_000);
    await stack.services.gateway.kill();
    await stack.services.gateway.start();
    const done = await expectRestored(r, 'gateway');
    expect(done.stderr).toMatch(/retrying/);
  }, 180_000);

  it('the cache-index and the config-service: reads go on with zero client errors, and the replacements take over', async () => {
    const before = await chunksOnVolume();
    const r = restore('index-config', '0');
    await until('chunks to arrive', async () => (await chunksOnVolume()) >= before + 1, 60_000);
    await stack.services['cache-index'].kill();
    await until('more chunks to arrive', async () => (await chunksOnVolume()) >= before + 3, 60_000);
    await stack.services['config-service'].kill();
    await until('more chunks to arrive', async () => (await chunksOnVolume()) >= before + 5, 60_000);
    await stack.services['cache-index'].start();
    await stack.services['config-service'].start();
    await expectRestored(r, 'index-config');
    expect(r.stderr()).not.toMatch(/retrying/);

    // The replacements serve: the gateway sees the cache-index again, and a config change reaches it.
    await until('the cache-index to answer the gateway', async () => (await status()).cacheIndexOnline === true, 30_000);
    const set = await stack.cli(['config', 'set', 'images.readahead', '8']).done;
    expect(set.code, set.stderr).toBe(0);
    const generation = Number(/generation (\d+)/.exec(set.stdout + set.stderr)?.[1] ?? NaN);
    await until(
      'the gateway to run the new config',
      async () => {
        const c = (await status()).config as { generation?: number; configServiceOnline?: boolean } | undefined;
        return c?.configServiceOnline === true && (Number.isNaN(generation) ? true : (c.generation ?? 0) >= generation);
      },
      30_000,
    );
  }, 180_000);
});
