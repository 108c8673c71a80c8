import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importRawImage } from '@larder/datastore';
import { encodeChunk } from '@larder/formats';
import { chunkObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startOwnNats, startProcessStack, until, type OwnNats, type ProcessStack } from './test-processes.js';

// The standing fault suite, NATS part: a node (every service its own process) on a nats-server of this test's own,
// which the test kills and starts again (never the shared one).

let nats: OwnNats;
let stack: ProcessStack;
let image: Buffer;

async function chunksOnVolume(): Promise<number> {
  const root = path.join(stack.config.volume.path, stack.ns, 'chunks');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.tmp-')).length;
}

/** A NATS outage: kill -9 the server, wait `downMs`, start it again on the same port; returns when it is back. */
async function outage(downMs: number): Promise<number> {
  await nats.stop();
  await sleep(downMs);
  await nats.start();
  return Date.now();
}

beforeAll(async () => {
  nats = await startOwnNats();
  stack = await startProcessStack({ nats: nats.url, fetchers: 1 });
  image = Buffer.concat([randomBytes(20 * 2 ** 20), Buffer.alloc(4 * 2 ** 20, 'nats restart '), randomBytes(2 ** 20 + 99)]);
  const file = path.join(stack.dir, 'disk.raw');
  await writeFile(file, image);
  await importRawImage({ ds: stack.ds('demo'), file, name: 'disk' });
}, 120_000);
afterAll(async () => {
  await stack?.cleanup();
  await nats?.cleanup();
});

describe('NATS restart', () => {
  it('a cold restore through a NATS restart completes with zero client errors', async () => {
    stack.s3.setFault({ delayMs: 300 });
    const out = path.join(stack.dir, 'disk.restored');
    const r = stack.cli(['restore', 'demo/disk.fidx', out, '--parallel', '2', '--retry-for', '0']);
    await until('chunks to arrive', async () => (await chunksOnVolume()) >= 2, 60_000);
    await outage(3000);
    const done = await r.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).not.toMatch(/retrying/);
    expect((await readFile(out)).equals(image)).toBe(true);
  }, 120_000);

  it('a miss waiting through a 4 s outage, and one asked during it, are answered soon after NATS is back', async () => {
    const ds = stack.ds('demo');
    const put = async () => {
      const { digest, bytes } = encodeChunk(ds.layout, randomBytes(100_000), ds.digest);
      await putObjectBytes(s3ClientFor(ds), ds.bucket, chunkObjectKey(ds, digest), bytes);
      return { digest, bytes };
    };
    const [early, late] = [await put(), await put()];
    const get = async (digest: string) => {
      const res = await fetch(`${stack.gatewayUrl}/v1/stores/demo/chunks/${digest}`);
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
    };
    // S3 slow enough that the first fetch is still under way when NATS goes.
    stack.s3.setFault({ delayMs: 1500 });
    const t0 = Date.now();
    const first = get(early.digest);
    await sleep(300);
    await nats.stop();
    await sleep(1000);
    const second = get(late.digest);
    await sleep(3000);
    await nats.start();
    const [a, b] = await Promise.all([first, second]);
    expect(a.status).toBe(200);
    expect(a.body.equals(early.bytes)).toBe(true);
    expect(b.status).toBe(200);
    expect(b.body.equals(late.bytes)).toBe(true);
    // Within the budget of one request (gateway.requestTimeout, 20 s), outage included: not after a lost request's timeout.
    expect(Date.now() - t0).toBeLessThan(stack.config.gateway.requestTimeout);
    stack.s3.setFault(undefined);
  }, 120_000);
});
