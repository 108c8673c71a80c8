import { writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { CAIBX_DEFAULT_FEATURE_FLAGS, digestFromHex, writeCaibx } from '@larder/formats';
import { indexObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';
import { parseExposition, valueOf } from './metrics-text.js';

// The gateway's decoded copies on the volume: a copy that rots is dropped by the spill's scrubber (run here on demand:
// the test stack's volume.scrubRate is 0) and not served again, and the spill shows in /v1/status, /metrics and
// `larder status`.

const CHUNK = 64 * 1024;
let stack: TestStack;
let image: Buffer;
let digests: string[];

interface SpillStatus {
  budgetBytes: number;
  usedBytes: number;
  chunks: number;
  failedWrites: number;
  corrupt: number;
  scrub: { rateBytesPerSec: number; passes: number; bytes: number } | null;
}

beforeAll(async () => {
  stack = await startTestStack({ fetchers: 1 });
  // Casync chunks (all compressed): every one is decoded, and its decoded copy written to the spill.
  const plains = [randomBytes(CHUNK), Buffer.alloc(CHUNK, 'spill '), randomBytes(CHUNK)];
  digests = [];
  for (const plain of plains) digests.push((await stack.putChunk('cas', plain)).digest);
  image = Buffer.concat(plains);
  const index = writeCaibx({ entries: digests.map((d, i) => ({ end: (i + 1) * CHUNK, digest: digestFromHex(d) })), featureFlags: CAIBX_DEFAULT_FEATURE_FLAGS });
  const ds = stack.ds('cas');
  await putObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, 'spill.caibx'), index);
}, 60_000);
afterAll(() => stack?.cleanup());

const imageUrl = () => `${stack.gateway()}/v1/stores/cas/images/spill.caibx`;

async function spillStatus(): Promise<SpillStatus> {
  const res = await fetchBytes(`${stack.gateway()}/v1/status`);
  return (JSON.parse(res.body.toString()) as { decodedSpill: SpillStatus }).decodedSpill;
}

async function scrape() {
  return parseExposition((await fetchBytes(`${stack.gateway()}/metrics`)).body.toString()).samples;
}

describe('decoded copies on the volume', () => {
  it('are shown in /v1/status and /metrics; one that rots is found, dropped and counted, and the next read is right', async () => {
    const spill = stack.gateways[0]!.decodedSpill;
    const res = await fetchBytes(imageUrl());
    expect(res.status).toBe(200);
    expect(res.body.equals(image)).toBe(true);
    await expect.poll(() => spill.count, { timeout: 5000 }).toBe(3);
    const before = await spillStatus();
    expect(before).toEqual({
      budgetBytes: stack.config.images.decodedSpillSize,
      usedBytes: 3 * CHUNK,
      chunks: 3,
      failedWrites: 0,
      corrupt: 0,
      scrub: { rateBytesPerSec: 0, passes: 0, bytes: 0 },
    });
    const m0 = await scrape();
    expect(valueOf(m0, 'larder_decoded_spill_bytes')).toBe(3 * CHUNK);
    expect(valueOf(m0, 'larder_decoded_spill_chunks')).toBe(3);
    expect(valueOf(m0, 'larder_decoded_spill_budget_bytes')).toBe(stack.config.images.decodedSpillSize);

    // A byte flipped in the middle chunk's copy (its segment file is unlinked: written through the descriptor).
    const e = spill.acquire(`cas/${digests[1]}`)!;
    writeSync(e.fd, Buffer.from('X'), 0, 1, e.offset + 1000);
    spill.release(e);
    expect(await stack.gateways[0]!.spillScrubber.pass()).toBe(1);
    const again = await fetchBytes(imageUrl(), { headers: { range: `bytes=${CHUNK}-${2 * CHUNK - 1}` } });
    expect(again.status).toBe(206);
    expect(again.body.equals(image.subarray(CHUNK, 2 * CHUNK))).toBe(true);
    expect(await spillStatus()).toMatchObject({ corrupt: 1, scrub: { passes: 1, bytes: 3 * CHUNK } });
    const m1 = await scrape();
    expect(valueOf(m1, 'larder_decoded_spill_corrupt_total') - valueOf(m0, 'larder_decoded_spill_corrupt_total')).toBe(1);
    // The chunk's copy is written anew from that decode, and serves right.
    await expect.poll(() => spill.has(`cas/${digests[1]}`), { timeout: 5000 }).toBe(true);
    expect((await fetchBytes(imageUrl())).body.equals(image)).toBe(true);
    expect((await spillStatus()).corrupt).toBe(1);

    const cli = await stack.cli(['status']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^decoded spill +\S+ \S+ of 2\.00 GiB in \d+ chunks, 1 corrupt, 0 failed writes$/m);
  });
});
