import { s3Limit } from '../baselines.js';
import { nbdCopyToNull } from '../nbd-copy.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import type { ResultRow, Scenario } from '../types.js';
import { FORMATS, imageSets, setCase } from './common.js';
import { scrubPorts } from '../units.js';

/** Fetcher counts the scenario tries. */
export const FETCHER_COUNTS = [1, 2, 4] as const;

/**
 * Requests each fetcher works on at once in this scenario. Small on purpose: each fetcher is then bound by the
 * link's round trip, not by this machine's 2 cores (with the default of 128 one fetcher already keeps the cores
 * busy), which is what adding fetchers on more hosts is for.
 */
export const SCALING_CONCURRENCY = 4;

/** Scenario 6: cold read throughput with 1, 2 and 4 chunk fetchers. */
export const fetcherScaling: Scenario = {
  name: 'fetcher-scaling',
  title: 'Fetcher scaling: cold restore with 1 / 2 / 4 fetchers',
  description:
    'A cold sequential read of the first 256 MiB of each image (16 MiB with --quick) over NBD, with Larder started with 1, 2 and 4 chunk fetchers, each working on at most ' +
    `${SCALING_CONCURRENCY} requests at once (fetcher.concurrency) so that one fetcher is bound by the link's round trip; the S3 side's limit ` +
    '(best parallel GETs, in image bytes) is the ceiling. On the realistic ext4 image (main case) and the random one. Higher MiB/s is better; ratios are against 1 fetcher and against the ceiling.',
  needs: ['nbdcopy', 'nbdinfo', 'nbdkit', 'mkfs.ext4'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    for (const set of await imageSets(ctx)) {
      for (const format of FORMATS) {
        const c = setCase(set, format);
        const limit = await s3Limit(ctx, format, set);
        const ceiling = out.row({
          case: c,
          system: "S3 side's limit (ceiling)",
          link: ctx.linkLabel,
          figures: [fig('throughput', limit.best.imageMiBPerSec, 'MiB/s', 'higher')],
          note: `best of parallel GETs, at ${limit.best.concurrency} in flight, in image bytes (${limit.best.mibPerSec.toFixed(1)} MiB/s of stored bytes)`,
        });
        let one: ResultRow | undefined;
        for (const n of FETCHER_COUNTS) {
          const r = await withLarder(
            ctx,
            async (stack) => {
              ctx.log(`larder: cold read of the ${set.kind} ${format} image with ${n} fetcher(s)`);
              return nbdCopyToNull(stack.nbdUri(set.images[format]), { prefixBytes: ctx.sizes.scalingReadBytes });
            },
            { fetchers: n, fetcherConcurrency: SCALING_CONCURRENCY },
          );
          if (!r) continue;
          const row = out.row({
            case: c,
            system: `Larder, ${n} fetcher${n > 1 ? 's' : ''} × ${SCALING_CONCURRENCY} in flight`,
            link: ctx.linkLabel,
            figures: [fig('throughput', r.mibPerSec, 'MiB/s', 'higher')],
            note: `\`${scrubPorts(r.command)}\``,
          });
          if (n === 1) one = row;
          else out.ratio(c, `${n} fetchers / 1 fetcher`, 'throughput', row, one);
          out.ratio(c, `${n} fetcher${n > 1 ? 's' : ''} / S3 limit`, 'throughput', row, ceiling);
        }
      }
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    return out.done();
  },
};
