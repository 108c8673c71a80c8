import { medianCopy, nbdkitFile } from '../baselines.js';
import { LOCAL_LINK } from '../link.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import type { Scenario } from '../types.js';
import { cpuFigures, cpuNote, larderCpuGroups, startCpuMeter } from '../cpu-meter.js';
import { nbdCopyToNull } from '../nbd-copy.js';
import { FORMATS, imageSets, imageStatsNote, setCase } from './common.js';
import { scrubPorts } from '../units.js';

/** Scenario 2: warm restore, everything cached, against nbdkit's file plugin on local disk. */
export const warmRestore: Scenario = {
  name: 'warm-restore',
  title: 'Warm restore (full sequential read over NBD, everything cached)',
  description:
    'Reads the whole image over NBD with nbdcopy once to warm up, then again several times (median reported): Larder with every ' +
    "chunk cached, against nbdkit's file plugin serving the raw image from local disk (the local limit). For a realistic ext4 image (main case) and a random one. " +
    'Higher MiB/s is better; CPU columns are CPU seconds per GiB read of each Larder process, the S3 emulation and the client (nbdcopy).',
  needs: ['nbdkit', 'nbdcopy', 'nbdinfo', 'mkfs.ext4'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const fx = await ctx.fixtures();
    for (const set of await imageSets(ctx)) {
      const file = await nbdkitFile(ctx, set);
      out.note(imageStatsNote(set));
      const fileRow = out.row({
        case: `${set.label}, raw on local disk`,
        system: 'nbdkit file plugin',
        link: LOCAL_LINK,
        figures: [fig('throughput', file.mibPerSec, 'MiB/s', 'higher'), fig('time for image', file.ms / 1000, 's', 'lower')],
        note: `median of ${file.runs.length} read(s) after a warm-up read (${file.runs.map((r) => r.toFixed(0)).join(', ')} MiB/s) with \`${scrubPorts(file.command)}\` from \`${scrubPorts(file.server)}\``,
      });
      for (const format of FORMATS) {
        const image = set.images[format];
        const larder = await withLarder(ctx, async (stack) => {
          ctx.log(`larder: warm reads of the ${set.kind} ${format} image`);
          const uri = stack.nbdUri(image);
          await nbdCopyToNull(uri);
          // CPU over the timed (warm) reads only, not the warm-up read that fills the cache.
          const meter = await startCpuMeter(larderCpuGroups(stack.processes(), fx.s3.pid));
          const r = await medianCopy(uri, ctx.sizes.warmRepeats, false);
          const cpu = await meter.stop(r.bytes * r.runs.length);
          return { ...r, cpu };
        });
        if (!larder) continue;
        const row = out.row({
          case: setCase(set, format),
          system: 'Larder (all cached)',
          link: `${ctx.linkLabel} (unused: every chunk cached)`,
          figures: [fig('throughput', larder.mibPerSec, 'MiB/s', 'higher'), fig('time for image', larder.ms / 1000, 's', 'lower'), ...cpuFigures(larder.cpu)],
          note: `median of ${larder.runs.length} read(s) after a warm-up read (${larder.runs.map((r) => r.toFixed(0)).join(', ')} MiB/s), \`${scrubPorts(larder.command)}\`; ${cpuNote(larder.cpu)} (over the timed reads)`,
        });
        out.ratio(setCase(set, format), 'Larder / nbdkit file', 'throughput', row, fileRow);
      }
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    return out.done();
  },
};
