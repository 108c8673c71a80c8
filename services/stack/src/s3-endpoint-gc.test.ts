import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeChunk } from '@larder/formats';
import { ChunkTouches, createRedis, type Redis } from '@larder/redis';
import { startOwnRedis, type OwnRedis } from '@larder/redis/testing';
import { chunkObjectKey, headObjectSize, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PbsS3Client, s3EndpointOf, startS3TestStack, xmlText } from './s3-endpoint-testing.js';
import { fetchBytes, type TestStack } from './test-stack.js';

// Chunk PUTs through the S3 endpoint to a datastore Larder owns follow the GC protocol (issue 12): touch first, wait
// while a GC run claims the chunk, fail rather than write unrecorded. The stack runs on a Redis of its own, which the
// last test stops.
const STORE = 'store1';
let own: OwnRedis;
let stack: TestStack;
let pbs: PbsS3Client;
let redis: Redis;
let touches: ChunkTouches;

beforeAll(async () => {
  own = await startOwnRedis();
  stack = await startS3TestStack(
    { vault: { layout: 'pbs', bucket: 'vault-up', prefix: STORE, clientBucket: 'vault', owned: true } },
    { fetchers: 1, config: { redis: { url: own.url } } },
  );
  pbs = new PbsS3Client(s3EndpointOf(stack.gateways[0]), 'vault', STORE);
  redis = createRedis({ url: own.url });
  redis.on('error', () => {});
  touches = new ChunkTouches(redis, stack.ns);
}, 120_000);

afterAll(async () => {
  pbs?.close();
  redis?.disconnect();
  await own?.start().catch(() => {}); // cleanup clears the stack's keys
  await stack?.cleanup();
  await own?.stop();
});

const chunk = () => encodeChunk('pbs', randomBytes(32 * 1024), 'sha256');
const rel = (digest: string) => `.chunks/${digest.slice(0, 4)}/${digest}`;
const inS3 = (digest: string) => {
  const ds = stack.ds('vault');
  return headObjectSize(s3ClientFor(ds), ds.bucket, chunkObjectKey(ds, digest));
};
const claimWaits = async () => {
  const status = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString()) as { s3Endpoint: { chunks: { putsClaimWaits: number } } };
  return status.s3Endpoint.chunks.putsClaimWaits;
};

describe('S3 endpoint: chunk PUTs to an owned datastore and GC', () => {
  it('a PUT of a chunk GC claimed waits until the claim ends, then uploads it (and it is touched, so not claimable)', async () => {
    const { digest, bytes } = chunk();
    expect(await touches.claim('vault', 'gc-run', [digest], Date.now(), 60_000)).toEqual([digest]);
    const waitsBefore = await claimWaits();
    const put = pbs.putObject(rel(digest), bytes, false);
    while ((await claimWaits()) === waitsBefore) await sleep(20);
    expect(await inS3(digest)).toBeUndefined();
    // GC found it referenced after all (or its delete landed): the claim ends, the PUT goes on.
    await touches.release('vault', 'gc-run', [digest], []);
    expect((await put).status).toBe(200);
    expect(await inS3(digest)).toBe(bytes.byteLength);
    expect(await touches.claim('vault', 'gc-run', [digest], Date.now() - 1000, 60_000)).toEqual([]);
    // PBS sends it again: known, touched, not uploaded.
    expect((await pbs.putObject(rel(digest), bytes, false)).status).toBe(412);
  });

  it('a PUT to an owned datastore fails cleanly (503) while Redis is unreachable: nothing is uploaded unrecorded', async () => {
    const { digest, bytes } = chunk();
    await own.stop();
    const res = await pbs.putObject(rel(digest), bytes, false);
    expect(res.status).toBe(503);
    expect(xmlText(res.body.toString(), 'Code')).toBe('ServiceUnavailable');
    expect(await inS3(digest)).toBeUndefined();
  });
});
