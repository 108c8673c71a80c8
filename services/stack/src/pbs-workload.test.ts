import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { digest as digestOf, encodeDataBlob, writeFixedIndex } from '@larder/formats';
import { headObjectSize, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDemoImage } from './demo-image.js';
import { PbsS3Client, xmlText, s3EndpointOf, startS3TestStack, type S3Response } from './s3-endpoint-testing.js';
import type { TestStack } from './test-stack.js';

const run = promisify(execFile);

// Replays the requests of a Proxmox Backup Server 4.x S3 datastore (docs/pbs-s3-requests.md) against Larder's S3
// endpoint: PBS datastore `store1` on the S3 endpoint's bucket `pbs`. Its keys are `store1/.chunks/…` and
// `store1/.cnt/…`, so the Larder datastore `pbs1` is a pbs-layout datastore with prefix `store1` in the upstream
// bucket `pbs-up`, and its images are Larder images (readable over NBD).
const STORE = 'store1';
const CHUNK = 4 * 2 ** 20;
const SNAP1 = 'vm/100/2026-01-02T03:04:05Z';
const SNAP2 = 'vm/100/2026-01-03T03:04:05Z';
const DISK = 'drive-scsi0.img.fidx';

let stack: TestStack;
let endpoint: string;
let pbs: PbsS3Client;
let image: Buffer;
/** The image's chunks as PBS uploads them: digest (hex) → DataBlob. */
const blobs = new Map<string, Buffer>();
let fidx: Buffer;

beforeAll(async () => {
  stack = await startS3TestStack({ pbs1: { layout: 'pbs', bucket: 'pbs-up', prefix: STORE, clientBucket: 'pbs' } }, { fetchers: 2 });
  endpoint = s3EndpointOf(stack.gateways[0]);
  pbs = new PbsS3Client(endpoint ?? 'http://127.0.0.1:1', 'pbs', STORE);
  const file = path.join(stack.dir, 'disk.raw');
  await makeDemoImage(file, 20);
  image = await readFile(file);
  const digests: Buffer[] = [];
  for (let o = 0; o < image.length; o += CHUNK) {
    const plain = image.subarray(o, Math.min(image.length, o + CHUNK));
    const d = digestOf('sha256', plain);
    digests.push(d);
    blobs.set(d.toString('hex'), encodeDataBlob(plain));
  }
  fidx = writeFixedIndex({ size: image.length, chunkSize: CHUNK, digests });
}, 120_000);
afterAll(async () => {
  pbs?.close();
  await stack?.cleanup();
});

const chunkKey = (digest: string) => `.chunks/${digest.slice(0, 4)}/${digest}`;
const upstreamSize = (fullKey: string) => headObjectSize(s3ClientFor(stack.ds('pbs1')), 'pbs-up', fullKey);
/** Upstream (s3rver) PUTs and HEADs of chunk objects since the last reset. */
function upstreamChunkRequests(): { puts: number; heads: number } {
  let puts = 0;
  for (const [key, n] of stack.s3?.stats.putsByKey ?? []) if (key.startsWith(`pbs-up/${STORE}/.chunks/`)) puts += n;
  return { puts, heads: stack.s3?.stats.heads ?? 0 };
}

/** What proxmox-s3-client needs of a PUT answer: 200 with an ETag and no body (412: already there, also fine). */
function expectPutOk(res: S3Response, what: string, allow412 = false): void {
  if (allow412 && res.status === 412) return;
  expect(res.status, `${what}: ${res.body.toString()}`).toBe(200);
  expect(res.headers.etag, what).toBeTruthy();
  expect(res.body.length, what).toBe(0);
}

/** What it needs of a GET or HEAD answer: Content-Length, Content-Type, ETag and Last-Modified. */
function expectObjectHeaders(res: S3Response, what: string): void {
  expect(res.status, `${what}: ${res.body.toString()}`).toBe(200);
  for (const h of ['content-length', 'content-type', 'etag', 'last-modified']) expect(res.headers[h], `${what}: ${h}`).toBeTruthy();
}

/** One snapshot's upload as PBS's backup session does it, after its chunks: index, blobs, manifest last. */
async function uploadSnapshot(snap: string): Promise<void> {
  expectPutOk(await pbs.putObject(`.cnt/${snap}/${DISK}`, fidx, true), 'fidx');
  expectPutOk(await pbs.putObject(`.cnt/${snap}/qemu-server.conf.blob`, encodeDataBlob(Buffer.from('memory: 2048\nscsi0: local:vm-100-disk-0\n')), true), 'conf');
  expectPutOk(await pbs.putObject(`.cnt/${snap}/client.log.blob`, encodeDataBlob(Buffer.from('backup started\nbackup finished\n')), true), 'log');
  const manifest = {
    'backup-type': 'vm',
    'backup-id': '100',
    'backup-time': Date.parse(snap.split('/')[2] ?? '') / 1000,
    files: [{ filename: DISK, 'crypt-mode': 'none', size: fidx.length, csum: createHash('sha256').update(fidx).digest('hex') }],
    signature: null,
    unprotected: { chunk_upload_stats: {} },
  };
  expectPutOk(await pbs.putObject(`.cnt/${snap}/index.json.blob`, encodeDataBlob(Buffer.from(JSON.stringify(manifest, null, 2))), true), 'manifest');
}

/** Every chunk of the image with `If-None-Match: *`, as a PBS host whose local cache does not know them. */
async function uploadChunks(): Promise<number[]> {
  const statuses: number[] = [];
  for (const [d, blob] of blobs) {
    const res = await pbs.putObject(chunkKey(d), blob, false);
    expectPutOk(res, `chunk ${d}`, true);
    statuses.push(res.status);
  }
  return statuses;
}

describe('a PBS-shaped workload through the S3 endpoint', () => {
  it('creates the datastore as PBS does: HEAD bucket, in-use marker, the atime check zero chunk', async () => {
    expect((await pbs.headBucket()).status).toBe(200);
    const inUse = await pbs.getObject('.in-use');
    expect(inUse.status).toBe(404);
    expect(xmlText(inUse.body.toString(), 'Code')).toBe('NoSuchKey');
    expectPutOk(await pbs.putObject('.in-use', Buffer.from(JSON.stringify({ hostname: 'pbs-test' })), true), '.in-use');
    expect(await upstreamSize(`${STORE}/.in-use`)).toBeGreaterThan(0);
    const zero = Buffer.alloc(CHUNK);
    const zeroDigest = digestOf('sha256', zero).toString('hex');
    expectPutOk(await pbs.putObject(chunkKey(zeroDigest), encodeDataBlob(zero), false), 'zero chunk');
    // Again, as the next GC's atime check does: S3's answer to If-None-Match for an object it has.
    expect((await pbs.putObject(chunkKey(zeroDigest), encodeDataBlob(zero), false)).status).toBe(412);
  });

  it('backup: chunk PUTs with If-None-Match, then the snapshot under .cnt/; every object lands upstream under the store prefix', async () => {
    expectPutOk(await pbs.putObject(`.cnt/vm/100/owner`, Buffer.from('root@pam\n'), true), 'owner');
    const statuses = await uploadChunks();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    await uploadSnapshot(SNAP1);
    for (const d of blobs.keys()) expect(await upstreamSize(`${STORE}/${chunkKey(d)}`), d).toBe(blobs.get(d)?.length);
    expect(await upstreamSize(`${STORE}/.cnt/${SNAP1}/${DISK}`)).toBe(fidx.length);
  });

  it('listing: ListObjectsV2 of .cnt/ and .chunks/ as PBS walks them', async () => {
    const cnt = (await pbs.listAll('.cnt')).map((o) => o.key);
    for (const f of [DISK, 'qemu-server.conf.blob', 'client.log.blob', 'index.json.blob']) expect(cnt).toContain(`${STORE}/.cnt/${SNAP1}/${f}`);
    expect(cnt).toContain(`${STORE}/.cnt/vm/100/owner`);
    const chunks = await pbs.listAll('.chunks/');
    for (const [d, blob] of blobs) expect(chunks).toContainEqual({ key: `${STORE}/${chunkKey(d)}`, size: blob.length });
  });

  it('restore: chunk GETs carry the headers PBS needs and are served from the cache (written through at backup)', async () => {
    stack.s3?.resetStats();
    for (const [d, blob] of blobs) {
      const res = await pbs.getObject(chunkKey(d));
      expectObjectHeaders(res, `GET chunk ${d}`);
      expect(res.body.equals(blob), d).toBe(true);
      expectObjectHeaders(await pbs.headObject(chunkKey(d)), `HEAD chunk ${d}`);
    }
    // No chunk from S3 (Larder itself reads the snapshot's index, to read ahead of the client).
    expect([...(stack.s3?.stats.getsByKey.keys() ?? [])].filter((k) => k.includes('/.chunks/'))).toEqual([]);
    const index = await pbs.getObject(`.cnt/${SNAP1}/${DISK}`);
    expectObjectHeaders(index, 'GET fidx');
    expect(index.body.equals(fidx)).toBe(true);
  });

  it('the backed-up image reads byte for byte over NBD', async () => {
    const out = path.join(stack.dir, 'restored.raw');
    const uri = `nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/pbs1/${SNAP1}/${DISK}`;
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', uri, out], { timeout: 120_000 });
    expect((await readFile(out)).equals(image)).toBe(true);
  });

  it('a second identical backup (a PBS host with an empty local cache) sends no chunk PUT and no HEAD upstream', async () => {
    stack.s3?.resetStats();
    const statuses = await uploadChunks();
    // Known chunks are answered as S3 would answer If-None-Match for an object it has; PBS counts 412 as done.
    expect(new Set(statuses)).toEqual(new Set([412]));
    await uploadSnapshot(SNAP2);
    expect(upstreamChunkRequests()).toEqual({ puts: 0, heads: 0 });
    expect(stack.s3?.stats.puts).toBe(4); // the snapshot's index, two blobs and the manifest passed through
  });

  it('verify of a corrupt chunk: CopyObject to <digest>.0.bad, DeleteObject of the chunk; Larder forgets the chunk', async () => {
    const plain = Buffer.from('a chunk that verify finds corrupt '.repeat(1000));
    const d = digestOf('sha256', plain).toString('hex');
    expectPutOk(await pbs.putObject(chunkKey(d), encodeDataBlob(plain), false), 'extra chunk');
    expect((await pbs.getObject(chunkKey(d))).status).toBe(200);
    const copy = await pbs.copyObject(chunkKey(d), `${chunkKey(d)}.0.bad`);
    expect(copy.status, copy.body.toString()).toBe(200);
    expect(xmlText(copy.body.toString(), 'ETag')).toBeTruthy();
    expect(xmlText(copy.body.toString(), 'LastModified')).toBeTruthy();
    const del = await pbs.deleteObject(chunkKey(d));
    expect(del.status, del.body.toString()).toBe(204);
    expect(await upstreamSize(`${STORE}/${chunkKey(d)}`)).toBeUndefined();
    expect(await upstreamSize(`${STORE}/${chunkKey(d)}.0.bad`)).toBeGreaterThan(0);
    const gone = await pbs.getObject(chunkKey(d));
    expect(gone.status).toBe(404);
    expect((await pbs.headObject(chunkKey(d))).status).toBe(404);
    // The record is gone too: a PUT of it uploads again.
    stack.s3?.resetStats();
    expectPutOk(await pbs.putObject(chunkKey(d), encodeDataBlob(plain), false), 'chunk again');
    expect(upstreamChunkRequests().puts).toBe(1);
  });

  it('prune: list the snapshot, DeleteObjects of its keys', async () => {
    const keys = (await pbs.listAll(`.cnt/${SNAP1}`)).map((o) => o.key);
    expect(keys.length).toBe(4);
    const res = await pbs.deleteObjects(keys);
    expect(res.status, res.body.toString()).toBe(200);
    const xml = res.body.toString();
    expect(xml).not.toMatch(/<Error>/);
    expect(xml.match(/<Deleted>/g)?.length).toBe(4);
    for (const k of keys) expect(await upstreamSize(k), k).toBeUndefined();
    expect(await upstreamSize(`${STORE}/.cnt/${SNAP2}/${DISK}`)).toBe(fidx.length);
  });

  it('GC: list .chunks/ page by page (more than 1000 objects), DeleteObjects in batches of 100; deleted chunks are gone, used ones stay', async () => {
    // Garbage: 1050 small chunks no index references (an expired backup's).
    const garbage: string[] = [];
    for (let i = 0; i < 1050; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const plain = Buffer.from(`garbage chunk ${i + j}`);
          const d = digestOf('sha256', plain).toString('hex');
          garbage.push(d);
          expectPutOk(await pbs.putObject(chunkKey(d), encodeDataBlob(plain), false), `garbage ${i + j}`);
        }),
      );
    }
    expect((await pbs.headBucket()).status).toBe(200);
    const first = await pbs.listObjectsV2('.chunks/');
    expect(xmlText(first.body.toString(), 'IsTruncated')).toBe('true');
    const listed = await pbs.listAll('.chunks/');
    const used = new Set([...blobs.keys()].map((d) => `${STORE}/${chunkKey(d)}`));
    const sweep = listed.map((o) => o.key).filter((k) => !used.has(k) && !k.endsWith('.bad'));
    expect(sweep.length).toBeGreaterThanOrEqual(1050);
    for (let i = 0; i < sweep.length; i += 100) {
      const res = await pbs.deleteObjects(sweep.slice(i, i + 100));
      expect(res.status, res.body.toString()).toBe(200);
      expect(res.body.toString()).not.toMatch(/<Error>/);
    }
    const left = (await pbs.listAll('.chunks/')).map((o) => o.key).filter((k) => !k.endsWith('.bad'));
    expect(new Set(left)).toEqual(used);
    const sample = garbage[17] as string;
    expect((await pbs.getObject(chunkKey(sample))).status).toBe(404);
    for (const d of blobs.keys()) expect((await pbs.getObject(chunkKey(d))).status, d).toBe(200);
  }, 300_000);
});
