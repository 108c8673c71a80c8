import { nbdkitCurl, s3Limit, s3QueueDepth1, s3Unshaped } from '../baselines.js';
import { LOCAL_LINK } from '../link.js';
import { nbdCopyToNull } from '../nbd-copy.js';
import { LARDER_NOT_WIRED, withLarder } from '../larder-run.js';
import { larderS3Counts, larderS3Usage } from '../larder-s3-usage.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import type { Scenario } from '../types.js';
import { formatBytes, MiB, scrubPorts } from '../units.js';
import { cpuFigures, cpuNote, larderCpuGroups, startCpuMeter } from '../cpu-meter.js';
import { FORMATS, imageSets, imageStatsNote, setCase } from './common.js';

/** Scenario 1: cold live restore, Larder against S3 at queue depth 1, nbdkit curl + cache, and the S3 side's limit. */
export const coldRestore: Scenario = {
  name: 'cold-restore',
  title: 'Cold live restore (full sequential read over NBD, empty cache)',
  description:
    'Reads the whole imported image once over NBD with nbdcopy (every byte, extents ignored) on a cold cache: (a) Larder; ' +
    '(b) straight from S3 one chunk at a time (queue depth 1); (c) nbdkit curl plugin + cache filter reading the raw image ' +
    "as one object; (d) the S3 side's limit: best of plain parallel GETs of the same chunks. For a realistic ext4 image (main case) and a random one, each as a pbs and a casync store. " +
    'Higher MiB/s is better; ratios compare Larder with each baseline in the same run.',
  needs: ['nbdkit', 'nbdcopy', 'nbdinfo', 'mkfs.ext4'],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const link = ctx.linkLabel;
    const fx = await ctx.fixtures();
    for (const set of await imageSets(ctx)) {
      const curl = await nbdkitCurl(ctx, set);
      out.note(imageStatsNote(set));
      for (const format of FORMATS) {
        const c = setCase(set, format);
        const image = set.images[format];
        // GETs move stored (compressed) bytes; their rates are given in image bytes (the plain size of each chunk read), like Larder's.
        const curlRow = out.row({
          case: c,
          system: '(c) nbdkit curl + cache filter, raw image',
          link,
          figures: [fig('throughput', curl.mibPerSec, 'MiB/s', 'higher'), fig('est. time for image', ctx.sizes.imageBytes / MiB / curl.mibPerSec, 's', 'lower')],
          note: `the raw image as one S3 object (same run for both formats): first ${formatBytes(curl.bytes)} read with \`${scrubPorts(curl.command)}\` from \`${scrubPorts(curl.server)}\``,
        });
        const qd1 = await s3QueueDepth1(ctx, format, set);
        const qd1Row = out.row({
          case: c,
          system: '(b) S3 direct, queue depth 1',
          link,
          figures: [
            fig('throughput', qd1.imageMiBPerSec, 'MiB/s', 'higher'),
            fig('est. time for image', ctx.sizes.imageBytes / MiB / qd1.imageMiBPerSec, 's', 'lower'),
            fig('GET p50', qd1.p50Ms, 'ms', 'lower'),
          ],
          note: `${qd1.objects} of ${image.chunks.length} chunks in ${(qd1.ms / 1000).toFixed(1)} s (${qd1.mibPerSec.toFixed(2)} MiB/s of stored bytes), plain keep-alive HTTP GETs one at a time`,
          // One GET per chunk object (and per retry), for the bytes of the chunks it read.
          s3: { gets: qd1.objects + qd1.retries, heads: 0, puts: 0, lists: 0, deletes: 0, bytesDownloaded: qd1.bytes, dataBytes: qd1.imageBytes },
        });
        const limit = await s3Limit(ctx, format, set);
        const limitRow = out.row({
          case: c,
          system: "(d) S3 side's limit, parallel GETs",
          link,
          figures: [
            fig('throughput', limit.best.imageMiBPerSec, 'MiB/s', 'higher'),
            fig('est. time for image', ctx.sizes.imageBytes / MiB / limit.best.imageMiBPerSec, 's', 'lower'),
            fig('GET p50', limit.best.p50Ms, 'ms', 'lower'),
          ],
          note: `best at ${limit.best.concurrency} GETs in flight; tried ${limit.runs.map((r) => `${r.concurrency}: ${r.imageMiBPerSec.toFixed(1)}`).join(', ')} MiB/s (${limit.best.mibPerSec.toFixed(1)} MiB/s of stored bytes at the best)`,
        });
        out.ratio(c, '(d) S3 limit / (b) QD1', 'throughput', limitRow, qd1Row);
        const alone = await s3Unshaped(ctx, format, limit.best.concurrency, set);
        const aloneRow = out.row({
          case: c,
          system: 'reference: embedded S3 without the link',
          link: LOCAL_LINK,
          figures: [
            fig('throughput', alone.imageMiBPerSec, 'MiB/s', 'higher'),
            fig('est. time for image', ctx.sizes.imageBytes / MiB / alone.imageMiBPerSec, 's', 'lower'),
            fig('GET p50', alone.p50Ms, 'ms', 'lower'),
          ],
          note: `the same parallel GETs straight to s3rver at ${alone.concurrency} in flight: when (d) comes close to this, s3rver (one core), not the link, is the limit`,
        });
        out.ratio(c, '(d) S3 limit / S3 without the link', 'throughput', limitRow, aloneRow);
        const larder = await withLarder(ctx, async (stack) => {
          ctx.log(`larder: cold read of the ${set.kind} ${format} image`);
          const before = await larderS3Counts(stack, stack.storeName(image));
          const meter = await startCpuMeter(larderCpuGroups(stack.processes(), fx.s3.pid));
          const copy = await nbdCopyToNull(stack.nbdUri(image));
          const cpu = await meter.stop(copy.bytes);
          return { ...copy, cpu, s3: larderS3Usage(before, await larderS3Counts(stack, stack.storeName(image)), image.sizeBytes) };
        });
        if (larder) {
          const larderRow = out.row({
            case: c,
            system: '(a) Larder',
            link,
            figures: [fig('throughput', larder.mibPerSec, 'MiB/s', 'higher'), fig('est. time for image', larder.ms / 1000, 's', 'lower'), ...cpuFigures(larder.cpu)],
            note: `\`${scrubPorts(larder.command)}\`; ${cpuNote(larder.cpu)}`,
            s3: larder.s3,
          });
          out.ratio(c, '(a) Larder / (b) S3 QD1', 'throughput', larderRow, qd1Row);
          out.ratio(c, '(a) Larder / (c) nbdkit curl', 'throughput', larderRow, curlRow);
          out.ratio(c, '(a) Larder / (d) S3 limit', 'throughput', larderRow, limitRow);
        }
      }
    }
    if (!ctx.larder) out.note(LARDER_NOT_WIRED);
    out.note(
      'Throughput is in image bytes per second everywhere: the GET baselines move stored (compressed) bytes, counted in the plain bytes of the chunks they read. CPU columns: seconds of CPU (utime + stime from /proc/PID/stat) per GiB of image delivered, for each Larder process, the S3 emulation (s3rver and the WAN proxy, one process) and the client (nbdcopy).',
    );
    out.note('Baselines (b) and (d) read the image\'s chunk objects for a bounded time; "est. time for image" extrapolates their rate to the whole image.');
    out.note(
      '(c) is measured once per image (it reads the raw image, not the chunks) and shown in both formats; it reads a prefix of the image (its rate is steady: one ranged GET per NBD request, one at a time).',
    );
    return out.done();
  },
};
