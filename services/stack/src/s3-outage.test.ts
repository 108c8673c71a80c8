// S3 stopped and S3 frozen: cached images stay readable over HTTP Range and NBD after their index expired (served from the
// last good index, in memory or on the volume), misses fail fast naming S3, and everything recovers when S3 is back.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importRawImage } from '@larder/datastore';
import { startGateway, type Gateway } from '@larder/gateway';
import { deleteObject, indexObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { SavedIndexes } from '@larder/volume';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

const CHUNK = 256 * 1024;
const TTL_MS = 1000;
let stack: TestStack;
let work: string;
/** Image bytes by name (`<name>.fidx` in the demo datastore). */
const images = new Map<string, Buffer>();

interface ImagesStatus {
  s3Reachable: boolean | null;
  servedFromLastGood: string[];
  lastS3Error: { message: string; atMs: number } | null;
  savedIndexes: { count: number; bytes: number } | null;
}

/** Run a tool; resolves with its exit code and output instead of throwing. */
function tool(cmd: string, args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, env: { ...process.env, ...env }, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr }),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function importImage(name: string, chunks: number): Promise<void> {
  const bytes = randomBytes(chunks * CHUNK - 1234);
  await writeFile(path.join(work, name), bytes);
  await importRawImage({ ds: stack.ds('demo'), file: path.join(work, name), name, chunkSize: CHUNK });
  images.set(name, bytes);
}

const imageUrl = (name: string, gw = stack.gateway()) => `${gw}/v1/stores/demo/images/${name}.fidx`;
const nbdUri = (name: string, port = stack.gateways[0]?.nbdPort) => `nbd://127.0.0.1:${port}/demo/${name}.fidx`;

async function imagesStatus(gw = stack.gateway()): Promise<ImagesStatus> {
  const res = await fetchBytes(`${gw}/v1/status`);
  expect(res.status).toBe(200);
  return (JSON.parse(res.body.toString()) as { images: ImagesStatus }).images;
}

async function range(name: string, start: number, length: number, gw?: string) {
  return fetchBytes(imageUrl(name, gw), { headers: { range: `bytes=${start}-${start + length - 1}` } });
}

/** Read the whole image over HTTP and over a new NBD connection (nbdcopy), checking every byte. */
async function expectReadable(name: string, gw?: string, nbdPort?: number): Promise<void> {
  const http = await fetchBytes(imageUrl(name, gw));
  expect(http.status, `HTTP ${name}: ${http.body.subarray(0, 300).toString()}`).toBe(200);
  expect(http.body.equals(images.get(name) as Buffer), `HTTP ${name}`).toBe(true);
  const mid = await range(name, CHUNK - 100, 300, gw);
  expect(mid.status).toBe(206);
  const out = path.join(work, `${name}.nbd.out`);
  const copy = await tool('nbdcopy', [nbdUri(name, nbdPort), out]);
  expect(copy, `nbdcopy ${name}`).toMatchObject({ code: 0 });
  expect((await readFile(out)).equals(images.get(name) as Buffer), `NBD ${name}`).toBe(true);
}

/** Poll `cond` until true, within `ms`. */
async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  stack = await startTestStack({ fetchers: 1, config: { images: { indexTtl: `${TTL_MS}ms` } } });
  work = path.join(stack.dir, 'images');
  await mkdir(work, { recursive: true });
  await importImage('cached.img', 4); // read whole before the outage
  await importImage('partial.img', 3); // only its first chunk read before the outage
  await importImage('never.img', 2); // never opened before the outage
  await importImage('frozen.img', 3); // opened, not read, before S3 freezes
  await importImage('gone.img', 2); // read, then deleted from S3
  await putObjectBytes(s3ClientFor(stack.ds('demo')), stack.ds('demo').bucket, indexObjectKey(stack.ds('demo'), 'bad.fidx'), randomBytes(3000));
}, 120_000);
afterAll(() => stack?.cleanup());

/** One more gateway on the test stack's node (its own ports; no S3 endpoint). */
function anotherGateway(): ReturnType<typeof startGateway> {
  const deps = stack.deps;
  return startGateway({
    config: () => stack.config,
    nc: deps.nc,
    index: deps.index,
    volume: deps.volume,
    redis: deps.redis,
    listen: '127.0.0.1:0',
    nbdListen: '127.0.0.1:0',
    s3Listen: false,
  });
}

describe('NBD and HTTP name why an image cannot be opened', () => {
  it('unknown image: no such export; malformed index: says malformed', async () => {
    const unknown = await tool('nbdinfo', [nbdUri('nope.img')], { LIBNBD_DEBUG: '1' });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("server error message: cannot open export 'demo/nope.img.fidx': no such export: no image nope.img.fidx in datastore demo");
    expect(unknown.stderr).toContain('No such file or directory');
    const noStore = await tool('nbdinfo', [`nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/nostore/x.fidx`], { LIBNBD_DEBUG: '1' });
    expect(noStore.stderr).toContain('no such export: unknown datastore: nostore');
    expect((await fetchBytes(imageUrl('nope.img'))).status).toBe(404);

    const bad = await tool('nbdinfo', [`nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/demo/bad.fidx`], { LIBNBD_DEBUG: '1' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("server error message: cannot open export 'demo/bad.fidx': image bad.fidx in demo has a malformed index");
    expect(bad.stderr).toContain('Invalid argument');
    const badHttp = await fetchBytes(`${stack.gateway()}/v1/stores/demo/images/bad.fidx`);
    expect(badHttp.status).toBe(422);
  });
});

describe('S3 stopped', () => {
  let second: Gateway | undefined;
  afterAll(async () => {
    await second?.stop();
    await stack.s3?.start();
  });

  it('keeps fully cached images readable after their index expired, over HTTP Range and new NBD connections', async () => {
    await expectReadable('cached.img');
    expect((await range('partial.img', 0, 1000)).status).toBe(206);
    expect(await imagesStatus()).toMatchObject({ s3Reachable: true, servedFromLastGood: [], lastS3Error: null });

    await stack.s3?.stop();
    await sleep(TTL_MS + 300);
    await expectReadable('cached.img');
    const status = await imagesStatus();
    expect(status.s3Reachable).toBe(false);
    expect(status.servedFromLastGood).toContain('demo/cached.img.fidx');
    expect(status.lastS3Error?.message).toMatch(/S3 unavailable/);
    expect(status.savedIndexes?.count).toBeGreaterThanOrEqual(2);
  });

  it('an uncached chunk or a never-opened image fails with a 503 naming S3; NBD says S3 is unavailable', async () => {
    const miss = await range('partial.img', CHUNK + 10, 100);
    expect(miss.status).toBe(503);
    expect(JSON.parse(miss.body.toString()).message).toMatch(/S3 unavailable/);
    // The cached part of the same image still reads.
    const hit = await range('partial.img', 10, 100);
    expect(hit.status).toBe(206);
    expect(hit.body.equals((images.get('partial.img') as Buffer).subarray(10, 110))).toBe(true);

    const never = await fetchBytes(imageUrl('never.img'));
    expect(never.status).toBe(503);
    expect(JSON.parse(never.body.toString())).toMatchObject({
      error: 'unavailable',
      message: expect.stringMatching(/reading index never\.img\.fidx of demo: S3 unavailable/) as unknown,
    });
    const nbd = await tool('nbdinfo', [nbdUri('never.img')], { LIBNBD_DEBUG: '1' });
    expect(nbd.code).not.toBe(0);
    expect(nbd.stderr).toMatch(/server error message: cannot open export 'demo\/never\.img\.fidx': reading index never\.img\.fidx of demo: S3 unavailable/);
    expect(nbd.stderr).toContain('Cannot send after transport endpoint shutdown');
  });

  it('a gateway started while S3 is down serves cached images from the index copies on the volume', async () => {
    second = await anotherGateway();
    await expectReadable('cached.img', second.url, second.nbdPort);
    expect((await range('partial.img', 0, 1000, second.url)).status).toBe(206);
    const status = await imagesStatus(second.url);
    expect(status).toMatchObject({ s3Reachable: false });
    expect(status.servedFromLastGood.sort()).toEqual(['demo/cached.img.fidx', 'demo/partial.img.fidx']);
    expect((await fetchBytes(imageUrl('never.img', second.url))).status).toBe(503);
  });

  it('once S3 is back, misses and never-opened images work again and the status says so', async () => {
    await stack.s3?.start();
    for (const gw of [stack.gateway(), second?.url ?? '']) {
      await until(async () => (await imagesStatus(gw)).servedFromLastGood.length === 0, 10_000, 'the indexes to be re-read from S3');
      expect((await imagesStatus(gw)).s3Reachable).toBe(true);
    }
    const miss = await range('partial.img', CHUNK + 10, 100);
    expect(miss.status).toBe(206);
    expect(miss.body.equals((images.get('partial.img') as Buffer).subarray(CHUNK + 10, CHUNK + 110))).toBe(true);
    await expectReadable('never.img');
    await expectReadable('partial.img', second?.url, second?.nbdPort);
  });
});

describe('S3 frozen (accepts requests, never answers)', () => {
  afterAll(() => stack.s3?.setFault(undefined));

  it('cached reads are unaffected, misses fail within fetcher.timeout, and everything recovers after the thaw', async () => {
    expect((await fetchBytes(`${imageUrl('frozen.img')}`, { method: 'HEAD' })).status).toBe(200);
    await expectReadable('cached.img');
    stack.s3?.setFault({ hang: true });
    await sleep(TTL_MS + 300);
    await expectReadable('cached.img');
    await expectReadable('cached.img');

    // A gateway started while S3 is frozen answers from the index copies on the volume while its S3 reads hang.
    const third = await anotherGateway();
    try {
      await expectReadable('cached.img', third.url, third.nbdPort);
      await until(async () => (await imagesStatus(third.url)).servedFromLastGood.includes('demo/cached.img.fidx'), 10_000, 'the S3 read to time out');
    } finally {
      await third.stop();
    }

    // A miss waits for the fetcher's S3 deadline (fetcher.timeout), not for the gateway's longer request timeout.
    const miss = await range('frozen.img', CHUNK + 10, 100);
    expect(miss.status).toBe(504);
    expect(JSON.parse(miss.body.toString()).message).toMatch(/S3 did not answer in time/);
    const status = await imagesStatus();
    expect(status.servedFromLastGood).toContain('demo/cached.img.fidx');
    expect(status.lastS3Error?.message).toMatch(/S3 did not answer in time/);

    stack.s3?.setFault(undefined);
    const after = await range('frozen.img', CHUNK + 10, 100);
    expect(after.status).toBe(206);
    expect(after.body.equals((images.get('frozen.img') as Buffer).subarray(CHUNK + 10, CHUNK + 110))).toBe(true);
    await until(async () => (await imagesStatus()).servedFromLastGood.length === 0, 10_000, 'the indexes to be re-read from S3');
    expect((await imagesStatus()).s3Reachable).toBe(true);
    await expectReadable('frozen.img');
  });
});

describe('an image that a reachable S3 says is gone', () => {
  it('is never served from an old copy: 404 at once, and its copy on the volume is removed', async () => {
    await expectReadable('gone.img');
    const saved = new SavedIndexes(stack.config.volume.path, stack.config.namespace);
    expect(await saved.load('demo', 'gone.img.fidx')).toBeDefined();
    await deleteObject(s3ClientFor(stack.ds('demo')), stack.ds('demo').bucket, indexObjectKey(stack.ds('demo'), 'gone.img.fidx'));
    await sleep(TTL_MS + 100);
    expect((await fetchBytes(imageUrl('gone.img'))).status).toBe(404);
    expect(await saved.load('demo', 'gone.img.fidx')).toBeUndefined();
    // With S3 then down, nothing of it is served either.
    await stack.s3?.stop();
    try {
      expect((await fetchBytes(imageUrl('gone.img'))).status).toBe(503);
    } finally {
      await stack.s3?.start();
    }
    expect((await imagesStatus()).servedFromLastGood).toEqual([]);
  });
});
