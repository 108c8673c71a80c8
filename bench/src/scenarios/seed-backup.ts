import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { BENCH_ACCESS_KEY } from '../larder-hook.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import { encodePbsBackup, type PbsBackupSource } from '../pbs-backup-fixture.js';
import { cpuMsOf, cpuMsOfAll, waitForIdle } from '../proc-cpu.js';
import { pbsS3Backup, type PbsBackupResult, type PbsS3Target } from '../pbs-s3-backup.js';
import { makeS3Client, withRetry } from '../s3-client.js';
import { measureS3Traffic, type S3Traffic } from '../s3-traffic.js';
import type { BenchContext, ResultRow, Scenario } from '../types.js';
import type { WanS3 } from '../wan-s3.js';
import { formatBytes, mibPerSec, MiB } from '../units.js';
import { ext4Image } from './common.js';

/** Chunk uploads in flight, as PBS's S3 backend keeps several at once. */
export const UPLOAD_CONCURRENCY = 8;
/** The bucket name the scenario's datastore answers to on Larder's S3 endpoint. */
const CLIENT_BUCKET = 'seed-backup';
const CASE = 'ext4 image, PBS backup (4 MiB fixed chunks, zstd DataBlobs)';

/** The ext4 image chunked and encoded as PBS's client does, once per run. */
function source(ctx: BenchContext): Promise<PbsBackupSource> {
  return ctx.memo('pbs-backup-source', async () => {
    const image = await ext4Image(ctx);
    ctx.log('seed-backup: chunking and encoding the ext4 image as a PBS backup');
    return encodePbsBackup(image, join(ctx.workDir, 'seed-backup', 'blobs'));
  });
}

/** One backup with the S3 side's counters of it and the CPU time each party spent. */
interface Measured {
  backup: PbsBackupResult;
  traffic: S3Traffic;
  /** CPU ms of the backup client (this process), of S3 with its WAN proxy, and of Larder's gateway (when it ran through Larder). */
  cpu: { clientMs: number; s3Ms: number; gatewayMs?: number };
}

async function measure(s3: WanS3, src: PbsBackupSource, target: PbsS3Target, backupTime: Date, gatewayPids: readonly number[] = []): Promise<Measured> {
  const client0 = process.cpuUsage();
  const [s30, gw0] = [await cpuMsOf(s3.pid), await cpuMsOfAll(gatewayPids)];
  const { result, traffic } = await measureS3Traffic(s3, () => pbsS3Backup(src, target, { concurrency: UPLOAD_CONCURRENCY, backupTime }));
  const client = process.cpuUsage(client0);
  const cpu = {
    clientMs: (client.user + client.system) / 1000,
    s3Ms: (await cpuMsOf(s3.pid)) - s30,
    ...(gatewayPids.length ? { gatewayMs: (await cpuMsOfAll(gatewayPids)) - gw0 } : {}),
  };
  return { backup: result, traffic, cpu };
}

/** Every distinct chunk must be in S3 under `prefix` after a backup, with the blob's length: the backup really happened. */
async function checkStored(endpoint: string, bucket: string, prefix: string, src: PbsBackupSource): Promise<void> {
  const s3 = makeS3Client(endpoint, 1);
  try {
    const sizes = new Map<string, number>();
    let token: string | undefined;
    do {
      const page = await withRetry(() => s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/.chunks/`, ContinuationToken: token })));
      for (const o of page.Contents ?? []) if (o.Key) sizes.set(o.Key.slice(o.Key.lastIndexOf('/') + 1), o.Size ?? -1);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const wrong = src.blobs.filter((b) => sizes.get(b.digest) !== b.bytes);
    if (wrong.length) throw new Error(`after the backup, ${wrong.length} of ${src.blobs.length} chunks are missing or of the wrong size under ${bucket}/${prefix}/.chunks/`);
  } finally {
    s3.destroy();
  }
}

/** A row of one backup. */
function backupRow(out: OutcomeBuilder, system: string, link: string, src: PbsBackupSource, m: Measured, how: string): ResultRow {
  const t = m.traffic;
  return out.row({
    case: CASE,
    system,
    link,
    figures: [
      fig('throughput', mibPerSec(src.sizeBytes, m.backup.ms), 'MiB/s of image', 'higher'),
      fig('time', m.backup.ms / 1000, 's', 'lower'),
      fig('chunk PUTs at S3', t.chunkPuts, 'requests', 'lower'),
      fig('PUTs at S3', t.puts, 'requests', 'lower'),
      fig('HEADs at S3', t.heads, 'requests', 'lower'),
      fig('GETs at S3', t.gets, 'requests', 'lower'),
      fig('sent to S3', t.bytesReceived / MiB, 'MiB', 'lower'),
    ],
    note:
      `${how}; client: ${m.backup.chunkPuts} conditional chunk PUTs (${m.backup.stored} answered 200, ${m.backup.existed} 412), ${m.backup.retries} retries; ` +
      `S3 side: ${t.requests} requests (${t.lists} listings, ${t.deletes} deletes), ${t.preconditionFailed} answered 412, ` +
      `link up ${formatBytes(t.wireBytesUp)} / down ${formatBytes(t.wireBytesDown)} (headers included); ` +
      `CPU: client ${(m.cpu.clientMs / 1000).toFixed(1)} s, S3 + link ${(m.cpu.s3Ms / 1000).toFixed(1)} s` +
      (m.cpu.gatewayMs === undefined ? '' : `, Larder gateway ${(m.cpu.gatewayMs / 1000).toFixed(1)} s`),
    // Counted at the S3 server; downloads are the link's bytes towards the client (headers included: an upper bound).
    s3: { gets: t.gets, heads: t.heads, puts: t.puts, lists: t.lists, deletes: t.deletes, bytesDownloaded: t.wireBytesDown, dataBytes: src.sizeBytes },
  });
}

/** Scenario: a PBS-style backup of an ext4 image to S3 straight, and through Larder's S3 endpoint cold and with every chunk known. */
export const seedBackup: Scenario = {
  name: 'seed-backup',
  title: 'Seed backup: a PBS-style backup straight to S3 vs through Larder (cold, every chunk known)',
  description:
    "A backup client shaped like Proxmox Backup Server's S3 backend writes the same realistic ext4 image (4 MiB fixed chunks, SHA-256, zstd " +
    `DataBlobs; each distinct chunk once) as conditional PutObjects (\`If-None-Match: *\`, SigV4 with the payload hash, ${UPLOAD_CONCURRENCY} uploads at once), ` +
    "then the snapshot's .fidx and manifest blob under `.cnt/`: (a) straight to S3 through the WAN link; (a') the same again, every chunk " +
    "already in S3 (S3 answers 412 after the body has crossed the link); (b) through Larder's S3 endpoint on a fresh stack (empty cache, " +
    'empty existence record, chunks new to S3); (c) the same backup through Larder again, every chunk known. Counted at the S3 side: PUTs, ' +
    'HEADs, GETs and request body bytes. Higher MiB/s of image is better; (c) should send no chunk PUT and no HEAD.',
  needs: ['mkfs.ext4'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const fx = await ctx.fixtures();
    const src = await source(ctx);
    const link = ctx.linkLabel;
    const run = randomBytes(3).toString('hex');
    const how = `${src.chunks} chunks in the index, ${src.blobs.length} distinct (${formatBytes(src.blobBytes)} of blobs), image ${formatBytes(src.sizeBytes)}`;
    const t0 = new Date();
    const later = (hours: number) => new Date(t0.getTime() + hours * 3600_000);

    const directPrefix = `seed/direct-${run}`;
    const direct: PbsS3Target = { endpoint: fx.s3.endpoint, bucket: fx.bucket, prefix: directPrefix, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } };
    ctx.log('seed-backup: (a) straight to S3');
    const a = await measure(fx.s3, src, direct, t0);
    await checkStored(fx.s3.directEndpoint, fx.bucket, directPrefix, src);
    const rowA = backupRow(out, '(a) straight to S3', link, src, a, how);
    ctx.log("seed-backup: (a') straight to S3, second backup");
    const a2 = await measure(fx.s3, src, direct, later(1));
    const rowA2 = backupRow(out, "(a') straight to S3, second backup (all chunks in S3)", link, src, a2, 'the same backup again: every conditional PUT answered 412');

    const larderPrefix = `seed/larder-${run}`;
    const larder = await withLarder(
      ctx,
      async (stack) => {
        const endpoint = await stack.s3Url();
        if (!endpoint) return 'no-endpoint' as const;
        // The client bucket stands for the datastore's S3 bucket, keys unchanged: the client writes under the datastore's prefix, as it would in S3.
        const target: PbsS3Target = { endpoint, bucket: CLIENT_BUCKET, prefix: larderPrefix, credentials: BENCH_ACCESS_KEY };
        ctx.log('seed-backup: (b) through Larder, empty cache');
        const b = await measure(fx.s3, src, target, later(2), stack.gatewayPids());
        await checkStored(fx.s3.directEndpoint, fx.bucket, larderPrefix, src);
        // (b)'s answers wait for S3 only; the gateway goes on caching the chunks it uploaded. A second backup comes
        // later (the next night): (c) starts once that work is done rather than sharing the 2 cores with it.
        const settledMs = await waitForIdle(stack.gatewayPids());
        ctx.log(`seed-backup: (c) through Larder, every chunk known (after ${(settledMs / 1000).toFixed(1)} s for (b)'s background caching)`);
        const c = await measure(fx.s3, src, target, later(3), stack.gatewayPids());
        return { b, c };
      },
      { extraDatastores: { [CLIENT_BUCKET]: { layout: 'pbs', prefix: larderPrefix, digest: 'sha256', clientBucket: CLIENT_BUCKET } } },
    );
    if (larder === 'no-endpoint') {
      out.note("Larder's S3 endpoint is not available in this tree (the gateway does not listen on `gateway.s3Listen`): rows (b) and (c) were skipped.");
    } else if (larder) {
      const endpointLink = `client → Larder: local; Larder → S3: ${link}`;
      const rowB = backupRow(
        out,
        "(b) through Larder's S3 endpoint, empty cache",
        endpointLink,
        src,
        larder.b,
        'fresh stack: empty cache and existence record; the chunks are new to S3',
      );
      const rowC = backupRow(
        out,
        "(c) through Larder's S3 endpoint, every chunk known",
        endpointLink,
        src,
        larder.c,
        "the same backup again on the same stack, once (b)'s background caching was done",
      );
      out.ratio(CASE, '(c) Larder, all known / (a) straight to S3', 'throughput', rowC, rowA);
      out.ratio(CASE, "(c) Larder, all known / (a') straight to S3, second backup", 'throughput', rowC, rowA2);
      out.ratio(CASE, '(b) Larder, empty cache / (a) straight to S3', 'throughput', rowB, rowA);
      if (larder.c.traffic.chunkPuts > 0 || larder.c.traffic.heads > 0)
        out.note(`(c) missed the target of no chunk PUT and no HEAD: ${larder.c.traffic.chunkPuts} chunk PUTs, ${larder.c.traffic.heads} HEADs reached S3.`);
    }
    out.ratio(CASE, "(a') second backup / (a) first backup, straight to S3", 'throughput', rowA2, rowA);
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    out.note(
      `Chunking, SHA-256 and zstd encoding of the image (${(src.encodeMs / 1000).toFixed(1)} s, ${src.zeroChunks} of ${src.chunks} chunks all zeros) are done once before the ` +
        'timed runs and not counted: in PBS the backup client does that work, and the datastore uploads the blobs it receives.',
    );
    out.note(
      'Each timed run starts with the S3 counters zeroed; PUTs include the snapshot index and manifest (2 per backup). "sent to S3" is request body bytes at the S3 server; ' +
        'the link figures in each row include headers and answers.',
    );
    return out.done();
  },
};
