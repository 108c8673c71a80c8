import { mkdir, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { casyncStoreInS3, type CasyncStoreFixture } from '../ext4-fixture.js';
import type { Fixtures } from '../fixtures.js';
import { LOCAL_LINK } from '../link.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import { runCommand } from '../processes.js';
import type { BenchContext, Scenario } from '../types.js';
import { formatBytes, mibPerSec, scrubPorts } from '../units.js';
import { ext4Image } from './common.js';

/** The scenario's own datastore: the ext4 image's casync store, in the bench bucket. */
const STORE = 'ext4-casync';
const PREFIX = 'stores/ext4-casync';
const INDEX = 'ext4.caibx';
const CASE = 'ext4 image, casync store (~64 KiB chunks)';

/** The ext4 image and its casync store in S3, made once per run. */
function fixture(ctx: BenchContext): Promise<CasyncStoreFixture> {
  return ctx.memo('ext4-casync-store', async () => {
    const fx = await ctx.fixtures();
    const image = await ext4Image(ctx);
    const dir = join(ctx.workDir, 'ext4-casync');
    await mkdir(dir, { recursive: true });
    ctx.log("chunk-client: making the ext4 image's casync store");
    return casyncStoreInS3({ workDir: dir, image, sizeBytes: ctx.sizes.imageBytes, endpoint: fx.s3.directEndpoint, bucket: fx.bucket, prefix: PREFIX, indexName: INDEX });
  });
}

interface Extract {
  ms: number;
  mibPerSec: number;
  command: string;
}

/** `casync extract` of the fixture's index from the store at `storeUrl`, timed; the output must equal the image. */
async function extract(fx: CasyncStoreFixture, storeUrl: string, out: string): Promise<Extract> {
  await rm(out, { force: true });
  const args = ['extract', `--store=${storeUrl}`, fx.index, out];
  const r = await runCommand('casync', args, { timeoutMs: 3_600_000 });
  if (r.code !== 0) throw new Error(`casync extract from ${storeUrl} failed (${r.code}): ${r.stderr.trim().slice(-500)}`);
  const same = await runCommand('cmp', ['-s', fx.image, out], { timeoutMs: 120_000 });
  if (same.code !== 0) throw new Error(`casync extract from ${storeUrl}: the output differs from the image`);
  await rm(out, { force: true });
  return { ms: r.ms, mibPerSec: mibPerSec(fx.sizeBytes, r.ms), command: `casync ${args.join(' ')}` };
}

/** How long a full run lets the extract straight from S3 run before it extrapolates (a 1 GiB image would take about 8 minutes). */
const DIRECT_BUDGET_MS = 90_000;

/**
 * The extract straight from S3. One round trip per chunk makes it slow: in a full run it is stopped after
 * DIRECT_BUDGET_MS and its rate (chunk GETs per second, from the S3 counters) extrapolated to every chunk of the
 * store (casync asks for each once); a quick run extracts everything and compares the output.
 */
async function extractDirect(ctx: BenchContext, fx: Fixtures, store: CasyncStoreFixture, storeUrl: string, out: string): Promise<Extract & { gets: number; complete: boolean }> {
  if (ctx.quick) return { ...(await extract(store, storeUrl, out)), gets: store.chunks, complete: true };
  const before = (await fx.s3.s3Stats()).objectGets;
  await rm(out, { force: true });
  const args = ['extract', `--store=${storeUrl}`, store.index, out];
  const r = await runCommand('casync', args, { timeoutMs: DIRECT_BUDGET_MS });
  const gets = (await fx.s3.s3Stats()).objectGets - before;
  // casync's temp file of a stopped extract (`.#<name><random>`), and the output.
  for (const f of await readdir(dirname(out))) if (f.startsWith(`.#${basename(out)}`) || f === basename(out)) await rm(join(dirname(out), f), { force: true });
  const command = `casync ${args.join(' ')}`;
  if (r.code === 0) return { ms: r.ms, mibPerSec: mibPerSec(store.sizeBytes, r.ms), command, gets, complete: true };
  if (gets === 0 || !r.stderr.includes('[killed after')) throw new Error(`casync extract from ${storeUrl} failed (${r.code}): ${r.stderr.trim().slice(-500)}`);
  const ms = (r.ms * store.chunks) / gets;
  return { ms, mibPerSec: mibPerSec(store.sizeBytes, ms), command, gets, complete: false };
}

interface ReadaheadCounters {
  issued: number;
  used: number;
  wasted: number;
  present: number;
}

/** Scenario: a client that fetches chunk by chunk (`casync extract` with an HTTP store), cold through Larder, straight from S3, and warm. */
export const chunkClient: Scenario = {
  name: 'chunk-client',
  title: 'Chunk-level client, cold (casync extract through Larder vs straight from S3)',
  description:
    '`casync extract` of a realistic image (an ext4 filesystem with logs, media, repeated files and free space, chunked by `casync make`) with ' +
    'the store given as an HTTP URL, so casync asks for one chunk, waits, then asks for the next: (a) through Larder on a cold cache (its ' +
    'readahead follows the index the client walks); (b) straight from S3 over plain HTTP through the same link; (c) through Larder with ' +
    'every chunk cached, the ceiling the client itself sets. Every output is compared with the image. Higher MiB/s is better.',
  needs: ['casync', 'mkfs.ext4', 'cmp'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const fx = await ctx.fixtures();
    const store = await fixture(ctx);
    const output = join(ctx.workDir, 'ext4-casync', 'extract.out');
    const link = ctx.linkLabel;
    const how = `${store.chunks} chunks in the store (${formatBytes(store.storeBytes)}), image ${formatBytes(store.sizeBytes)}`;

    ctx.log('chunk-client: casync extract straight from S3');
    // s3rver answers anonymous path-style GETs: `http://host/bucket/prefix/<4 hex>/<digest>.cacnk` is a casync store URL.
    const direct = await extractDirect(ctx, fx, store, `${fx.s3.endpoint}/${fx.bucket}/${PREFIX}/`, output);
    const directRow = out.row({
      case: CASE,
      system: '(b) straight from S3 over HTTP',
      link,
      figures: [fig('throughput', direct.mibPerSec, 'MiB/s', 'higher'), fig('time for image', direct.ms / 1000, 's', 'lower')],
      note:
        `\`${scrubPorts(direct.command)}\`; ${how}` +
        (direct.complete ? '' : `; stopped after ${DIRECT_BUDGET_MS / 1000} s with ${direct.gets} chunks fetched, the time for all ${store.chunks} extrapolated from that rate`),
    });

    const larder = await withLarder(
      ctx,
      async (stack) => {
        const url = `${stack.gatewayUrl}/casync/${STORE}/`;
        ctx.log('chunk-client: casync extract through Larder, cold');
        const cold = await extract(store, url, output);
        const status = (await (await fetch(`${stack.gatewayUrl}/v1/status`)).json()) as { chunkReadahead: ReadaheadCounters | null; misses: number | null; hits: number | null };
        const warm: Extract[] = [];
        for (let i = 0; i < Math.max(1, ctx.sizes.warmRepeats); i++) {
          ctx.log('chunk-client: casync extract through Larder, warm');
          warm.push(await extract(store, url, output));
        }
        warm.sort((a, b) => a.ms - b.ms);
        return { cold, warm: warm[Math.floor(warm.length / 2)] as Extract, warmRuns: warm, status };
      },
      { extraDatastores: { [STORE]: { layout: 'casync', prefix: PREFIX } } },
    );
    if (larder) {
      const ra = larder.status.chunkReadahead;
      const coldRow = out.row({
        case: CASE,
        system: '(a) Larder, cold',
        link,
        figures: [fig('throughput', larder.cold.mibPerSec, 'MiB/s', 'higher'), fig('time for image', larder.cold.ms / 1000, 's', 'lower')],
        note:
          `\`${scrubPorts(larder.cold.command)}\`; chunk requests: ${larder.status.misses ?? '?'} misses, ${larder.status.hits ?? '?'} hits` +
          (ra ? `; readahead fetched ${ra.issued} chunks ahead, ${ra.used} of them then asked for, ${ra.wasted} wasted` : ''),
      });
      const warmRow = out.row({
        case: CASE,
        system: '(c) Larder, warm (all cached)',
        link: `${LOCAL_LINK} (every chunk cached)`,
        figures: [fig('throughput', larder.warm.mibPerSec, 'MiB/s', 'higher'), fig('time for image', larder.warm.ms / 1000, 's', 'lower')],
        note: `median of ${larder.warmRuns.length} run(s) (${larder.warmRuns.map((r) => r.mibPerSec.toFixed(1)).join(', ')} MiB/s) after the cold one`,
      });
      out.ratio(CASE, '(a) Larder cold / (b) straight from S3', 'throughput', coldRow, directRow);
      out.ratio(CASE, '(a) Larder cold / (c) Larder warm', 'throughput', coldRow, warmRow);
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    out.note('casync skips chunks it has already written (repeats, zero runs), so it asks for each distinct chunk once, in index order, one at a time.');
    return out.done();
  },
};
