import http from 'node:http';
import type { ChunkRef } from '../image-fixture.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import { runPool } from '../pool.js';
import { objectUrl } from '../s3-gets.js';
import type { Scenario } from '../types.js';
import { percentile } from '../units.js';
import { FORMATS, formatCase } from './common.js';

/** Clients reading each chunk at once. */
export const CLIENTS_PER_CHUNK = 64;
/** Chunks read at the same time (each by 64 clients). */
const CHUNKS_AT_ONCE = 4;

/** GET a URL and drain it; resolves with the status. */
function getStatus(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Read every URL with `clients` concurrent GETs each, `CHUNKS_AT_ONCE` URLs at a time; latency of every GET and the failures. */
export async function readEachByMany(urls: readonly string[], clients = CLIENTS_PER_CHUNK): Promise<{ latencies: number[]; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients * CHUNKS_AT_ONCE });
  const latencies: number[] = [];
  let errors = 0;
  try {
    await runPool(urls.length, CHUNKS_AT_ONCE, async (i) => {
      const url = urls[i] as string;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          const t = performance.now();
          try {
            const status = await getStatus(agent, url);
            if (status === 200) latencies.push(performance.now() - t);
            else errors++;
          } catch {
            errors++;
          }
        }),
      );
    });
  } finally {
    agent.destroy();
  }
  return { latencies, errors };
}

/** GETs per chunk at the S3 side for `chunks`, from the embedded S3's counters. */
function getsPerChunk(getsByKey: Record<string, number>, bucket: string, chunks: readonly ChunkRef[]): { mean: number; max: number } {
  const counts = chunks.map((c) => getsByKey[`${bucket}/${c.key}`] ?? 0);
  return { mean: counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length), max: counts.reduce((a, b) => Math.max(a, b), 0) };
}

/** Scenario 5: single flight, many cold chunks each read by 64 concurrent clients; S3 GETs per chunk. */
export const singleFlight: Scenario = {
  name: 'single-flight',
  title: 'Single flight: cold chunks each read by 64 clients at once',
  description:
    'Many cold chunks, each requested by 64 concurrent HTTP clients (4 chunks at a time); the S3 GETs each chunk cost, counted at ' +
    'the embedded S3. Reference: the same clients reading straight from S3 (no coalescing: one GET per client). Lower is better; ' +
    'Larder should need 1 GET per chunk.',
  needs: [],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const fx = await ctx.fixtures();
    for (const format of FORMATS) {
      const image = fx.images[format];
      const count = Math.min(image.chunks.length, format === 'pbs' ? (ctx.quick ? 2 : 4) : ctx.quick ? 8 : 32);
      // Chunks from the end of the image: the other scenarios read it from the start.
      const chunks = image.chunks.slice(-count);
      const c = formatCase(format);
      ctx.log(`baseline: ${count} ${format} chunks × ${CLIENTS_PER_CHUNK} clients straight from S3`);
      await fx.s3.resetStats();
      const direct = await readEachByMany(chunks.map((ch) => objectUrl(fx.s3.endpoint, fx.bucket, ch.key)));
      const directGets = getsPerChunk((await fx.s3.s3Stats()).getsByKey, fx.bucket, chunks);
      const base = out.row({
        case: c,
        system: 'S3 direct (no coalescing)',
        link: ctx.linkLabel,
        figures: [
          fig('S3 GETs per chunk', directGets.mean, 'GETs', 'lower'),
          fig('max GETs for a chunk', directGets.max, 'GETs', 'lower'),
          fig('client p99', percentile(direct.latencies, 99), 'ms', 'lower'),
        ],
        note: `${count} chunks × ${CLIENTS_PER_CHUNK} clients${direct.errors ? `, ${direct.errors} failed GETs` : ''}`,
      });
      await withLarder(ctx, async (stack) => {
        ctx.log(`larder: ${count} cold ${format} chunks × ${CLIENTS_PER_CHUNK} clients`);
        const store = encodeURIComponent(stack.storeName(image));
        await fx.s3.resetStats();
        const r = await readEachByMany(chunks.map((ch) => `${stack.gatewayUrl}/v1/stores/${store}/chunks/${ch.digest}`));
        const gets = getsPerChunk((await fx.s3.s3Stats()).getsByKey, fx.bucket, chunks);
        const row = out.row({
          case: c,
          system: 'Larder gateway (cold)',
          link: ctx.linkLabel,
          figures: [
            fig('S3 GETs per chunk', gets.mean, 'GETs', 'lower'),
            fig('max GETs for a chunk', gets.max, 'GETs', 'lower'),
            fig('client p99', percentile(r.latencies, 99), 'ms', 'lower'),
          ],
          note: `${count} chunks × ${CLIENTS_PER_CHUNK} clients${r.errors ? `, ${r.errors} failed GETs` : ''}`,
        });
        out.ratio(c, 'Larder / no coalescing', 'S3 GETs per chunk', row, base);
      });
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    return out.done();
  },
};
