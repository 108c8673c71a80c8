import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeDataBlob, digest, parseFixedIndex } from '@larder/formats';
import { getObjectBytes, indexObjectKey, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

let stack: TestStack;
beforeAll(async () => {
  // `sha` is a pbs datastore whose chunks are named by SHA-512/256: import, the gateway and restore must all follow it.
  const datastores = { demo: { layout: 'pbs', bucket: 'demo' }, sha: { layout: 'pbs', bucket: 'sha', digest: 'sha512-256' } };
  stack = await startTestStack({ fetchers: 2, config: { datastores } });
});
afterAll(() => stack?.cleanup());

/** 22 MiB + 12345 bytes: random, zero and repeated chunks, and a size that is not a multiple of 4 MiB. */
function makeImage(): Buffer {
  const repeated = randomBytes(4 * 2 ** 20);
  return Buffer.concat([randomBytes(4 * 2 ** 20), Buffer.alloc(8 * 2 ** 20), repeated, repeated, Buffer.from('x'.repeat(2 * 2 ** 20)), randomBytes(12345)]);
}

describe('larder import', () => {
  it('imports an image, and every chunk fetched through the gateway reproduces it', async () => {
    const dir = path.join(stack.dir, 'import');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'disk.raw');
    const image = makeImage();
    await writeFile(file, image);

    const first = await stack.cli(['import', file, '--store', 'demo', '--name', 'vm/100/disk']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/imported demo\/vm\/100\/disk\.fidx: .* in 6 chunks \(4 unique\); uploaded 4 chunks/);
    const again = await stack.cli(['import', file, '--store', 'demo', '--name', 'vm/100/disk']);
    expect(again.stdout).toMatch(/uploaded 0 chunks, 0 B of/);

    const ds = stack.ds('demo');
    const index = parseFixedIndex(await getObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, 'vm/100/disk.fidx')));
    expect(index.size).toBe(image.length);
    const pieces: Buffer[] = [];
    for (let i = 0; i < index.chunkCount; i++) {
      const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${index.chunkDigest(i)}`);
      expect(res.status).toBe(200);
      pieces.push(decodeDataBlob(res.body));
    }
    expect(Buffer.concat(pieces).equals(image)).toBe(true);
  });

  it('a pbs datastore with digest sha512-256: import names chunks by it, the gateway serves them, restore and warm verify with it', async () => {
    const dir = path.join(stack.dir, 'import-sha');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'disk.raw');
    const image = makeImage();
    await writeFile(file, image);
    const imported = await stack.cli(['import', file, '--store', 'sha', '--name', 'disk']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/imported sha\/disk\.fidx: .* in 6 chunks \(4 unique\); uploaded 4 chunks/);

    const ds = stack.ds('sha');
    const index = parseFixedIndex(await getObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, 'disk.fidx')));
    for (let i = 0; i < index.chunkCount; i++) {
      expect(index.chunkDigest(i)).toBe(digest('sha512-256', image.subarray(index.chunkStart(i), index.chunkEnd(i))).toString('hex'));
    }
    const warmed = await stack.cli(['warm', 'sha/disk.fidx']);
    expect(warmed.code, warmed.stderr).toBe(0);
    expect(warmed.stdout).toMatch(/warmed sha\/disk\.fidx: 3 chunks .* 3 zero or repeated chunks skipped/);
    const out = path.join(dir, 'restored.raw');
    const restored = await stack.cli(['restore', 'sha/disk.fidx', out]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/6 chunks verified/);
    expect((await readFile(out)).equals(image)).toBe(true);
  });

  it('get writes a chunk through the gateway; bad arguments get clear errors', async () => {
    const { digest, bytes } = await stack.putChunk('demo', randomBytes(1000));
    const out = path.join(stack.dir, 'chunk.bin');
    const got = await stack.cli(['get', 'demo', digest, '-o', out]);
    expect(got.code, got.stderr).toBe(0);
    expect((await readFile(out)).equals(bytes)).toBe(true);
    const bad = await stack.cli(['get', 'demo', 'nothex']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/400 malformed digest/);
    const badName = await stack.cli(['import', out, '--store', 'demo', '--name', '../escape']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/bad image name/);
    const noFile = await stack.cli(['import', path.join(stack.dir, 'missing.raw'), '--store', 'demo', '--name', 'x']);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toMatch(/ENOENT|no such file/);
    expect((await stack.cli(['frobnicate'])).code).toBe(2);
  });
});
