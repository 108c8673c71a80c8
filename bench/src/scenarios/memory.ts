import { startNbdkit } from '../nbdkit.js';
import { nbdCopyToNull } from '../nbd-copy.js';
import { LOCAL_LINK } from '../link.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import { sampleRss } from '../rss.js';
import type { Scenario } from '../types.js';
import { FORMATS, imageSets } from './common.js';

/** Images read at once. */
export const PARALLEL_READS = 8;

/** Read `uris` all at once with nbdcopy while sampling the RSS of `pids`; peak/mean RSS and aggregate throughput. */
export async function rssWhileReading(uris: readonly string[], pids: () => readonly number[]) {
  const sampler = sampleRss(pids, 100);
  const t = performance.now();
  const runs = await Promise.allSettled(uris.map((u) => nbdCopyToNull(u)));
  const ms = performance.now() - t;
  const rss = await sampler.stop();
  const failed = runs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const bytes = runs.reduce((a, r) => a + (r.status === 'fulfilled' ? r.value.bytes : 0), 0);
  return { rss, mibPerSec: bytes / (1024 * 1024) / (ms / 1000) };
}

/** Scenario 8: gateway RSS while 8 images are read at once. */
export const memory: Scenario = {
  name: 'memory',
  title: 'Memory: gateway RSS while 8 images are read at once',
  description:
    'Eight full nbdcopy reads at the same time (the pbs and casync images alternately, cold cache), sampling the summed RSS of the ' +
    "gateway's processes every 100 ms; on the realistic ext4 image (main case) and the random one. Reference: nbdkit's file plugin process under the same 8 reads. Lower is better.",
  needs: ['nbdkit', 'nbdcopy', 'nbdinfo', 'mkfs.ext4'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    for (const set of await imageSets(ctx)) {
      const c = `${set.label}, ${PARALLEL_READS} reads at once`;
      ctx.log(`baseline: nbdkit file RSS under 8 reads, ${set.label}`);
      const nk = await startNbdkit({ plugin: 'file', params: [set.raw.path] });
      try {
        const pid = nk.pid;
        const r = await rssWhileReading(
          Array.from({ length: PARALLEL_READS }, () => nk.uri),
          () => (pid ? [pid] : []),
        );
        out.row({
          case: c,
          system: 'nbdkit file plugin (reference)',
          link: LOCAL_LINK,
          figures: [fig('peak RSS', r.rss.peakMiB, 'MiB', 'lower'), fig('mean RSS', r.rss.meanMiB, 'MiB', 'lower'), fig('aggregate throughput', r.mibPerSec, 'MiB/s', 'higher')],
          note: `${r.rss.samples} samples`,
        });
      } finally {
        await nk.stop();
      }
      await withLarder(ctx, async (stack) => {
        ctx.log(`larder: gateway RSS under 8 cold reads, ${set.label}`);
        const uris = Array.from({ length: PARALLEL_READS }, (_, i) => stack.nbdUri(set.images[FORMATS[i % FORMATS.length] ?? 'pbs']));
        const r = await rssWhileReading(uris, () => stack.gatewayPids());
        out.row({
          case: c,
          system: 'Larder gateway (cold)',
          link: ctx.linkLabel,
          figures: [fig('peak RSS', r.rss.peakMiB, 'MiB', 'lower'), fig('mean RSS', r.rss.meanMiB, 'MiB', 'lower'), fig('aggregate throughput', r.mibPerSec, 'MiB/s', 'higher')],
          note: `${r.rss.samples} samples; images read: pbs and casync alternately`,
        });
      });
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    return out.done();
  },
};
