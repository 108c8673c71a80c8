import type { ChunkingKind } from '../chunking.js';
import { Prng } from '../prng.js';
import { type Trace, TraceBuilder } from '../trace.js';
import { Fleet, FLEET, bootStream, hotStream, interleave, pickVms, restoreStream, verifyStream } from './fleet.js';

/** Days (storms, nights) each synthetic trace covers: reuse across days is what a cache is for. */
const DAYS = 3;
const VMS_PER_STORM = 48;
/** Hot-set requests between the morning storm and the night's scans. */
const DAYTIME_HOT_READS = 150_000;

/** Names of the synthetic workloads. */
export const SYNTHETIC_WORKLOADS = ['boot-storm', 'scans', 'mixed'] as const;
export type SyntheticWorkload = (typeof SYNTHETIC_WORKLOADS)[number];

const DESCRIPTIONS: Record<SyntheticWorkload, string> = {
  'boot-storm': `${DAYS} storms, each of ${VMS_PER_STORM} of ${FLEET.vms} VMs booting at once from ${FLEET.bases} base images (VM images share all but their private extents)`,
  scans: `${DAYS} nights, each a verify of the whole datastore (${FLEET.vms} VM images of ${FLEET.imageBytes / 2 ** 30} GiB, every distinct chunk once) with 2 full restores alongside`,
  mixed: `${DAYS} days of: a boot storm with the hot set alongside, ${DAYTIME_HOT_READS / 1000}k hot-set reads (Zipf ${FLEET.hotAlpha}), a night's verify and a full restore with the hot set alongside`,
};

/** Generate a synthetic trace; the same arguments always give the same trace. */
export function syntheticTrace(workload: SyntheticWorkload, chunking: ChunkingKind): Trace {
  const fleet = new Fleet(chunking);
  const rng = new Prng(workload === 'boot-storm' ? 1 : workload === 'scans' ? 2 : 3);
  const out = new TraceBuilder();
  let streamId = 0;
  const storm = () => pickVms(rng, VMS_PER_STORM).map((vm) => bootStream(fleet, vm, streamId++));
  const night = (restores: number) => [verifyStream(fleet, streamId++), ...pickVms(rng, restores).map((vm) => restoreStream(fleet, vm, streamId++))];
  for (let day = 0; day < DAYS; day++) {
    if (workload === 'boot-storm') interleave(out, rng, storm());
    else if (workload === 'scans') interleave(out, rng, night(2));
    else {
      const hot = hotStream(fleet, rng, 16);
      interleave(out, rng, storm(), [hot]);
      interleave(out, rng, [], [hot], DAYTIME_HOT_READS);
      interleave(out, rng, night(1), [hotStream(fleet, rng, 2)]);
    }
  }
  return out.build(workload, chunking, DESCRIPTIONS[workload]);
}
