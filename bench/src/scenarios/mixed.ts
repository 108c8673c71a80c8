import { startNbdkit } from '../nbdkit.js';
import { RANDOM_READ_JOB, runFioJobs, runMixed, SEQUENTIAL_COPY_JOB } from '../fio.js';
import type { FioResult } from '../fio.js';
import { LOCAL_LINK } from '../link.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import type { ResultRow, Scenario } from '../types.js';
import { FORMATS, imageSets, setCase } from './common.js';
import { scrubPorts } from '../units.js';

/** Figures of the random-read job. */
function randomFigures(r: FioResult) {
  return [fig('random p99', r.p99Ms, 'ms', 'lower'), fig('random p50', r.p50Ms, 'ms', 'lower'), fig('random IOPS', r.iops, 'IOPS', 'higher')];
}

/** Scenario 3: random reads 4–64 KiB at QD16 with and without a concurrent sequential copy (fio nbd engine). */
export const mixed: Scenario = {
  name: 'mixed',
  title: 'Mixed: random reads during a sequential copy (fio nbd engine)',
  description:
    'fio random reads of 4–64 KiB at queue depth 16 over NBD, alone and while a second fio job copies the image sequentially ' +
    '(256 KiB reads at queue depth 64): p50/p99 completion latency of the random reads with and without the copy. Larder runs each ' +
    'half on a fresh cold stack, on the realistic ext4 image (main case) and the random one. Lower latency is better; the ratio is p99 with copy / p99 alone.',
  needs: ['nbdkit', 'fio', 'mkfs.ext4'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const secs = ctx.sizes.fioRuntimeSec;
    const add = (c: string, system: string, link: string, alone: FioResult, withCopy: FioResult, copy: FioResult) => {
      const a: ResultRow = out.row({ case: c, system: `${system}, random reads alone`, link, figures: randomFigures(alone), note: `\`${scrubPorts(alone.command)}\`` });
      const b: ResultRow = out.row({
        case: c,
        system: `${system}, random reads + sequential copy`,
        link,
        figures: [...randomFigures(withCopy), fig('copy throughput', copy.mibPerSec, 'MiB/s', 'higher')],
        note: `\`${scrubPorts(withCopy.command)}\``,
      });
      out.ratio(c, `${system}: p99 with copy / alone`, 'random p99', b, a);
    };
    for (const set of await imageSets(ctx)) {
      ctx.log(`baseline: fio mixed against nbdkit file plugin, ${set.label}`);
      const nk = await startNbdkit({ plugin: 'file', params: [set.raw.path] });
      try {
        const m = await runMixed(nk.uri, secs);
        add(`${set.label}, raw on local disk`, 'nbdkit file', LOCAL_LINK, m.alone, m.withCopy, m.copy);
      } finally {
        await nk.stop();
      }
      for (const format of FORMATS) {
        const image = set.images[format];
        const alone = await withLarder(ctx, async (s) => (await runFioJobs(s.nbdUri(image), [RANDOM_READ_JOB], secs)).jobs.get('random'));
        const both = await withLarder(ctx, async (s) => (await runFioJobs(s.nbdUri(image), [RANDOM_READ_JOB, SEQUENTIAL_COPY_JOB], secs)).jobs);
        const withCopy = both?.get('random');
        const copy = both?.get('copy');
        if (alone && withCopy && copy) add(setCase(set, format), 'Larder (cold)', ctx.linkLabel, alone, withCopy, copy);
      }
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    return out.done();
  },
};
