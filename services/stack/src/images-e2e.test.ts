import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { importRawImage, pushCasyncStore } from '@larder/datastore';
import { indexObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDemoImage } from './demo-image.js';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

const run = promisify(execFile);
let stack: TestStack;
let pbsImage: Buffer;
let casImage: Buffer;
let work: string;

/** 4 MiB chunks: random, zero, zero, repeated, repeated, then a tail that is not a multiple of the chunk size. */
function makePbsImage(): Buffer {
  const repeated = randomBytes(4 * 2 ** 20);
  return Buffer.concat([randomBytes(4 * 2 ** 20), Buffer.alloc(8 * 2 ** 20), repeated, repeated, randomBytes(3 * 2 ** 20 + 4321)]);
}

beforeAll(async () => {
  stack = await startTestStack({ fetchers: 2 });
  work = path.join(stack.dir, 'images');
  await mkdir(work, { recursive: true });
  pbsImage = makePbsImage();
  await writeFile(path.join(work, 'pbs.raw'), pbsImage);
  await importRawImage({ ds: stack.ds('demo'), file: path.join(work, 'pbs.raw'), name: 'vm/100/disk.img' });
  await makeDemoImage(path.join(work, 'cas.raw'), 24);
  casImage = await readFile(path.join(work, 'cas.raw'));
  await run('casync', ['make', `--store=${path.join(work, 'store')}`, path.join(work, 'cas.caibx'), path.join(work, 'cas.raw')]);
  await pushCasyncStore({ ds: stack.ds('cas'), storeDir: path.join(work, 'store'), indexes: [path.join(work, 'cas.caibx')] });
}, 120_000);
afterAll(() => stack?.cleanup());

const imageUrl = (store: string, name: string) => `${stack.gateway()}/v1/stores/${store}/images/${name}`;
const nbdUri = (exp: string) => `nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/${exp}`;

describe('images over HTTP', () => {
  it('lists images with their sizes', async () => {
    const res = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/stores/demo/images`)).body.toString());
    expect(res.images).toEqual([{ name: 'vm/100/disk.img.fidx', size: pbsImage.length, format: 'fidx', chunks: 6 }]);
    const cas = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/stores/cas/images`)).body.toString());
    expect(cas.images[0]).toMatchObject({ name: 'cas.caibx', size: casImage.length, format: 'caibx' });
  });

  it('serves whole images byte for byte, without fetching zero chunks, and repeated chunks once', async () => {
    stack.s3?.resetStats();
    const pbs = await fetchBytes(imageUrl('demo', 'vm/100/disk.img.fidx'));
    expect(pbs.status).toBe(200);
    expect(pbs.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(pbs.headers.get('content-length'))).toBe(pbsImage.length);
    expect(pbs.body.equals(pbsImage)).toBe(true);
    const chunkGets = [...(stack.s3?.stats.getsByKey.entries() ?? [])].filter(([k]) => k.includes('/.chunks/'));
    expect(chunkGets.length).toBe(3); // random, repeated (once), tail; the zero chunks are never fetched
    expect(chunkGets.every(([, n]) => n === 1)).toBe(true);
    const cas = await fetchBytes(imageUrl('cas', 'cas.caibx'));
    expect(cas.body.equals(casImage)).toBe(true);
  });

  it('answers random single ranges exactly, across chunk boundaries, and 416 past the end', async () => {
    for (const [store, name, image] of [
      ['demo', 'vm/100/disk.img.fidx', pbsImage],
      ['cas', 'cas.caibx', casImage],
    ] as const) {
      for (let k = 0; k < 40; k++) {
        const start = Math.floor(Math.random() * image.length);
        const len = 1 + Math.floor(Math.random() * Math.min(image.length - start, k % 3 === 0 ? 9 * 2 ** 20 : 200_000));
        const res = await fetchBytes(imageUrl(store, name), { headers: { range: `bytes=${start}-${start + len - 1}` } });
        expect(res.status).toBe(206);
        expect(res.headers.get('content-range')).toBe(`bytes ${start}-${start + len - 1}/${image.length}`);
        expect(res.body.equals(image.subarray(start, start + len)), `${store} ${start}+${len}`).toBe(true);
      }
      const suffix = await fetchBytes(imageUrl(store, name), { headers: { range: 'bytes=-1000' } });
      expect(suffix.body.equals(image.subarray(image.length - 1000))).toBe(true);
      const past = await fetchBytes(imageUrl(store, name), { headers: { range: `bytes=${image.length}-` } });
      expect(past.status).toBe(416);
      expect(past.headers.get('content-range')).toBe(`bytes */${image.length}`);
    }
    const head = await fetch(imageUrl('demo', 'vm/100/disk.img.fidx'), { method: 'HEAD' });
    expect(head.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(Number(head.headers.get('content-length'))).toBe(pbsImage.length);
  });

  it('gives clear errors for unknown images, bad names and malformed indexes', async () => {
    expect((await fetchBytes(imageUrl('demo', 'nope.fidx'))).status).toBe(404);
    expect((await fetchBytes(imageUrl('nostore', 'x.fidx'))).status).toBe(404);
    expect((await fetchBytes(imageUrl('demo', 'x.txt'))).status).toBe(400);
    expect((await fetchBytes(imageUrl('demo', '..%2Fx.fidx'))).status).toBe(400);
    const ds = stack.ds('demo');
    await putObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, 'broken.fidx'), randomBytes(5000));
    const res = await fetchBytes(imageUrl('demo', 'broken.fidx'));
    expect(res.status).toBe(422);
    expect(JSON.parse(res.body.toString()).message).toMatch(/malformed index/);
    const truncated = (await fetchBytes(`${stack.gateway()}/v1/stores/demo/indexes/vm/100/disk.img.fidx`)).body.subarray(0, 4100);
    await putObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, 'truncated.fidx'), truncated);
    expect((await fetchBytes(imageUrl('demo', 'truncated.fidx'))).status).toBe(422);
  });

  it('keeps serving after a client disconnects mid-read', async () => {
    const ctl = new AbortController();
    const res = await fetch(imageUrl('cas', 'cas.caibx'), { signal: ctl.signal });
    const rd = res.body?.getReader();
    await rd?.read();
    ctl.abort();
    const again = await fetchBytes(imageUrl('demo', 'vm/100/disk.img.fidx'), { headers: { range: 'bytes=0-9' } });
    expect(again.status).toBe(206);
  });
});

describe('images over NBD, with real clients', () => {
  it('nbdinfo lists the exports', async () => {
    const { stdout } = await run('nbdinfo', ['--list', nbdUri('')]);
    expect(stdout).toContain('demo/vm/100/disk.img.fidx');
    expect(stdout).toContain('cas/cas.caibx');
  });

  it('qemu-img convert and nbdcopy restore both images byte for byte', async () => {
    for (const [exp, image] of [
      ['demo/vm/100/disk.img.fidx', pbsImage],
      ['cas/cas.caibx', casImage],
    ] as const) {
      const q = path.join(work, 'qemu.out');
      await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', nbdUri(exp), q]);
      // QEMU's block layer works in 512-byte sectors: it pads an image whose size is not a multiple of 512
      // with zeros to the next sector (the pbs image here is deliberately unaligned).
      const out = await readFile(q);
      expect(out.length, `qemu-img ${exp} size`).toBe(Math.ceil(image.length / 512) * 512);
      expect(out.subarray(0, image.length).equals(image), `qemu-img ${exp}`).toBe(true);
      expect(out.subarray(image.length).every((b) => b === 0)).toBe(true);
      const n = path.join(work, 'nbdcopy.out');
      await run('nbdcopy', [nbdUri(exp), n]);
      expect((await readFile(n)).equals(image), `nbdcopy ${exp}`).toBe(true);
    }
  });

  it('refuses an unknown export and keeps serving', async () => {
    await expect(run('nbdinfo', [nbdUri('demo/nope.fidx')])).rejects.toThrow();
    const { stdout } = await run('nbdinfo', ['--size', nbdUri('demo/vm/100/disk.img.fidx')]);
    expect(Number(stdout.trim())).toBe(pbsImage.length);
  });
});

describe('larder restore and warm', () => {
  it('warm brings a cold image into the cache, skipping zero chunks', async () => {
    const ds = stack.ds('demo');
    const image = Buffer.concat([randomBytes(4 * 2 ** 20), Buffer.alloc(4 * 2 ** 20), randomBytes(2 ** 20 + 512)]);
    await writeFile(path.join(work, 'warm.raw'), image);
    await importRawImage({ ds, file: path.join(work, 'warm.raw'), name: 'warm' });
    const w = await stack.cli(['warm', 'demo/warm.fidx']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/warmed demo\/warm\.fidx: 2 chunks .* 0 already cached, 1 zero or repeated/);
    const again = await stack.cli(['warm', 'demo/warm.fidx']);
    expect(again.stdout).toMatch(/2 already cached/);
  });

  it('restore writes both images byte for byte and verifies them', async () => {
    for (const [arg, image] of [
      ['demo/vm/100/disk.img.fidx', pbsImage],
      ['cas/cas.caibx', casImage],
    ] as const) {
      const out = path.join(work, `restore-${arg.replaceAll('/', '_')}`);
      const r = await stack.cli(['restore', arg, out, '--parallel', '4']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/chunks verified/);
      expect((await readFile(out)).equals(image)).toBe(true);
      const again = await stack.cli(['restore', arg, out]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/exists; pass --force/);
    }
    const missing = await stack.cli(['restore', 'demo/none.fidx', path.join(work, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 no image none\.fidx/);
    expect((await stack.cli(['restore', 'justonepart', path.join(work, 'x')])).code).toBe(2);
  });
});
