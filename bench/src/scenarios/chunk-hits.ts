import { startNginx } from '../nginx.js';
import { join } from 'node:path';
import { runHttpLoad } from '../http-load.js';
import type { HttpLoadResult } from '../http-load.js';
import { loadTest } from '../wrk.js';
import type { LoadTool } from '../wrk.js';
import { LOCAL_LINK } from '../link.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import type { Scenario } from '../types.js';
import { FORMATS, formatCase } from './common.js';

/** Concurrency of the chunk-hit load. */
export const CHUNK_HIT_CONCURRENCY = 64;

/** The gateway's HTTP processes measured (`gateway.workers`): the default, and one per core of this 2-core machine. */
export const GATEWAY_WORKERS = [1, 2];

function workerLabel(workers: number): string {
  return workers === 1 ? '1 worker' : `${workers} workers`;
}

/** Figures of a load run. */
function loadFigures(r: HttpLoadResult) {
  return [
    fig('requests/s', r.requestsPerSec, 'req/s', 'higher'),
    fig('throughput', r.mibPerSec, 'MiB/s', 'higher'),
    fig('p50', r.p50Ms, 'ms', 'lower'),
    fig('p99', r.p99Ms, 'ms', 'lower'),
  ];
}

/** How a load run was made, for the row's note. */
function loadNote(r: HttpLoadResult & { tool: LoadTool }, distinct: number): string {
  const errors = r.errors ? `, ${r.errors} errors (${r.firstError ?? ''})` : '';
  return `${r.tool}, ${r.concurrency} keep-alive connections, ${(r.ms / 1000).toFixed(0)} s, ${r.requests} requests over ${distinct} distinct chunks${errors}`;
}

/** Scenario 4: chunk hits over HTTP at concurrency 64, Larder's gateway against nginx serving the same chunk files from disk. */
export const chunkHits: Scenario = {
  name: 'chunk-hits',
  title: 'Chunk hits over HTTP at concurrency 64',
  description:
    'GETs of cached chunks at 64 connections (wrk when installed, else a Node keep-alive generator), cycling over every chunk of ' +
    "the image: Larder's gateway (`/v1/stores/{store}/chunks/{digest}`, all chunks cached first) against nginx serving the same " +
    'chunk files from local disk. Higher req/s is better, lower latency is better.',
  needs: ['nginx'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const fx = await ctx.fixtures();
    for (const format of FORMATS) {
      const image = fx.images[format];
      const c = formatCase(format);
      const root = await fx.chunkFiles(format);
      ctx.log(`baseline: nginx serving ${image.chunks.length} ${format} chunk files`);
      const nginx = await startNginx(join(ctx.workDir, `nginx-${format}`), root);
      let nginxRow;
      try {
        const paths = image.chunks.map((ch) => `/${ch.key}`);
        const r = await loadTest({ base: nginx.url, paths, concurrency: CHUNK_HIT_CONCURRENCY, durationMs: ctx.sizes.loadDurationMs });
        nginxRow = out.row({ case: c, system: 'nginx (files on local disk)', link: LOCAL_LINK, figures: loadFigures(r), note: loadNote(r, paths.length) });
      } finally {
        await nginx.stop();
      }
      for (const workers of GATEWAY_WORKERS) {
        await withLarder(
          ctx,
          async (stack) => {
            const store = stack.storeName(image);
            const paths = image.chunks.map((ch) => `/v1/stores/${encodeURIComponent(store)}/chunks/${ch.digest}`);
            ctx.log(`larder (${workerLabel(workers)}): caching every ${format} chunk, then the chunk-hit load`);
            const warm = await runHttpLoad({ base: stack.gatewayUrl, paths, concurrency: CHUNK_HIT_CONCURRENCY, requests: paths.length, durationMs: 600_000 });
            if (warm.errors) out.note(`Larder ${format}: ${warm.errors} errors while caching the chunks (${warm.firstError ?? ''}).`);
            const r = await loadTest({ base: stack.gatewayUrl, paths, concurrency: CHUNK_HIT_CONCURRENCY, durationMs: ctx.sizes.loadDurationMs });
            const row = out.row({
              case: c,
              system: `Larder gateway (cached, ${workerLabel(workers)})`,
              link: `${ctx.linkLabel} (unused: every chunk cached)`,
              figures: loadFigures(r),
              note: loadNote(r, paths.length),
            });
            out.ratio(c, `Larder (${workerLabel(workers)}) / nginx`, 'requests/s', row, nginxRow);
            out.ratio(c, `Larder (${workerLabel(workers)}) / nginx`, 'p99', row, nginxRow);
          },
          { gatewayWorkers: workers },
        );
      }
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    out.note('The load generator shares the 2 cores with the server under test, the same way for both.');
    return out.done();
  },
};
