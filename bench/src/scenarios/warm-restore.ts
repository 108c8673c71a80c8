import { medianCopy, nbdkitFile } from '../baselines.js';
import { LOCAL_LINK } from '../link.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import type { Scenario } from '../types.js';
import { FORMATS, formatCase } from './common.js';
import { scrubPorts } from '../units.js';

/** Scenario 2: warm restore, everything cached, against nbdkit's file plugin on local disk. */
export const warmRestore: Scenario = {
  name: 'warm-restore',
  title: 'Warm restore (full sequential read over NBD, everything cached)',
  description:
    'Reads the whole image over NBD with nbdcopy once to warm up, then again several times (median reported): Larder with every ' +
    "chunk cached, against nbdkit's file plugin serving the raw image from local disk (the local limit). Higher MiB/s is better.",
  needs: ['nbdkit', 'nbdcopy', 'nbdinfo'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const file = await nbdkitFile(ctx);
    const fileRow = out.row({
      case: 'raw image on local disk',
      system: 'nbdkit file plugin',
      link: LOCAL_LINK,
      figures: [fig('throughput', file.mibPerSec, 'MiB/s', 'higher'), fig('time for image', file.ms / 1000, 's', 'lower')],
      note: `median of ${file.runs.length} read(s) after a warm-up read (${file.runs.map((r) => r.toFixed(0)).join(', ')} MiB/s) with \`${scrubPorts(file.command)}\` from \`${scrubPorts(file.server)}\``,
    });
    const fx = await ctx.fixtures();
    for (const format of FORMATS) {
      const image = fx.images[format];
      const larder = await withLarder(ctx, async (stack) => {
        ctx.log(`larder: warm reads of the ${format} image`);
        return medianCopy(stack.nbdUri(image), ctx.sizes.warmRepeats);
      });
      if (!larder) continue;
      const row = out.row({
        case: formatCase(format),
        system: 'Larder (all cached)',
        link: `${ctx.linkLabel} (unused: every chunk cached)`,
        figures: [fig('throughput', larder.mibPerSec, 'MiB/s', 'higher'), fig('time for image', larder.ms / 1000, 's', 'lower')],
        note: `median of ${larder.runs.length} read(s) after a warm-up read (${larder.runs.map((r) => r.toFixed(0)).join(', ')} MiB/s), \`${scrubPorts(larder.command)}\``,
      });
      out.ratio(formatCase(format), 'Larder / nbdkit file', 'throughput', row, fileRow);
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    return out.done();
  },
};
