import { Boundaries, type ChunkingKind, GiB, ImageSpace, KiB, MiB, dirtyExtents } from '../chunking.js';
import { Prng, Zipf } from '../prng.js';
import type { TraceBuilder } from '../trace.js';

/** Sizes of the synthetic fleet: small enough that every trace replays in seconds, large enough for 1% caches to matter. */
export const FLEET = {
  bases: 4,
  imageBytes: 4 * GiB,
  vms: 64,
  bootExtents: 48,
  /** Private 64 KiB extents per VM image, anywhere / inside its boot set. */
  dirtyAnywhere: 150,
  dirtyInBoot: 6,
  hotRanges: 1500,
  hotRangeBytes: 256 * KiB,
  hotAlpha: 0.9,
  readBytes: 256 * KiB,
} as const;

/**
 * The synthetic data: `bases` OS images, and `vms` VM images (backups) derived from them, each with private
 * extents (some inside the boot set: logs, configs, machine ids). Each base has a boot set (ranges every VM of
 * that base reads at boot, in the same order) and a hot set (ranges running VMs read, Zipf-popular).
 */
export class Fleet {
  readonly bases: ImageSpace[] = [];
  readonly vms: ImageSpace[] = [];
  readonly bootSets: [number, number][][] = [];
  readonly hotSets: [number, number][][] = [];
  readonly hotZipf: Zipf;

  constructor(readonly chunking: ChunkingKind) {
    const rng = new Prng(42);
    for (let b = 0; b < FLEET.bases; b++) {
      const boundaries = new Boundaries(chunking, b + 1);
      this.bases.push(new ImageSpace(b + 1, boundaries, b + 1, FLEET.imageBytes));
      const boot: [number, number][] = [];
      for (let i = 0; i < FLEET.bootExtents; i++) {
        const length = rng.int(512 * KiB, 6 * MiB);
        const start = rng.int(0, FLEET.imageBytes - length);
        boot.push([start, start + length]);
      }
      this.bootSets.push(boot);
      const hot: [number, number][] = [];
      for (let i = 0; i < FLEET.hotRanges; i++) {
        const start = rng.int(0, FLEET.imageBytes - FLEET.hotRangeBytes);
        hot.push([start, start + FLEET.hotRangeBytes]);
      }
      this.hotSets.push(hot);
    }
    for (let v = 0; v < FLEET.vms; v++) {
      const b = v % FLEET.bases;
      const base = this.bases[b] as ImageSpace;
      const dirty = Float64Array.from([
        ...dirtyExtents(rng, FLEET.imageBytes, FLEET.dirtyAnywhere),
        ...dirtyExtents(rng, FLEET.imageBytes, FLEET.dirtyInBoot, this.bootSets[b]),
      ]).sort();
      this.vms.push(new ImageSpace(100 + v, base.base, base.baseId, FLEET.imageBytes, dirty));
    }
    this.hotZipf = new Zipf(FLEET.bases * FLEET.hotRanges, FLEET.hotAlpha);
  }
}

/** One source of requests; `step` issues one and says whether more follow. */
export interface Stream {
  weight: number;
  step(out: TraceBuilder): boolean;
}

/** A VM booting: its base's boot set, extent by extent, in `readBytes` requests. */
export function bootStream(fleet: Fleet, vm: number, streamId: number): Stream {
  const image = fleet.vms[vm] as ImageSpace;
  const extents = fleet.bootSets[vm % FLEET.bases] as [number, number][];
  let e = 0;
  let offset = extents[0]?.[0] ?? 0;
  return {
    weight: 1,
    step(out) {
      const extent = extents[e];
      if (!extent) return false;
      out.read(streamId, image, offset, Math.min(FLEET.readBytes, extent[1] - offset));
      offset += FLEET.readBytes;
      if (offset >= extent[1]) {
        e++;
        offset = extents[e]?.[0] ?? 0;
      }
      return e < extents.length;
    },
  };
}

/** Running VMs reading their hot sets: Zipf over every base's hot ranges, each read by a random VM of that base. */
export function hotStream(fleet: Fleet, rng: Prng, weight: number): Stream {
  return {
    weight,
    step(out) {
      const rank = fleet.hotZipf.sample(rng);
      const b = rank % FLEET.bases;
      const [start, end] = (fleet.hotSets[b] as [number, number][])[Math.floor(rank / FLEET.bases)] as [number, number];
      const vm = b + FLEET.bases * rng.int(0, FLEET.vms / FLEET.bases);
      out.read(1000 + vm, fleet.vms[vm] as ImageSpace, start, end - start);
      return true;
    },
  };
}

/** A full restore of one VM image: every byte, in order, 1 MiB per request. */
export function restoreStream(fleet: Fleet, vm: number, streamId: number): Stream {
  const image = fleet.vms[vm] as ImageSpace;
  let offset = 0;
  return {
    weight: 4,
    step(out) {
      out.read(streamId, image, offset, MiB, true);
      offset += MiB;
      return offset < image.sizeBytes;
    },
  };
}

/**
 * A verify job over the whole datastore: every distinct chunk of every VM image once (PBS verify keeps a set of
 * chunks already checked), image by image, about 1 MiB of chunks per step so its pace does not depend on the chunking.
 */
export function verifyStream(fleet: Fleet, streamId: number): Stream {
  const seen = new Set<number>();
  let vm = 0;
  let index = 0;
  return {
    weight: 4,
    step(out) {
      let bytes = 0;
      while (bytes < MiB && vm < fleet.vms.length) {
        const image = fleet.vms[vm] as ImageSpace;
        const [start] = image.base.range(index);
        if (start >= image.sizeBytes) {
          vm++;
          index = 0;
          continue;
        }
        const key = image.key(index);
        const size = image.size(index);
        index++;
        if (seen.has(key)) continue;
        seen.add(key);
        out.ref(streamId, key, size, true);
        bytes += size;
      }
      return vm < fleet.vms.length;
    },
  };
}

/**
 * Interleave streams at random by weight until every stream in `finite` is done (`background` streams, such as the
 * hot set, run alongside and never end a phase), or for `steps` requests when `finite` is empty.
 */
export function interleave(out: TraceBuilder, rng: Prng, finite: Stream[], background: Stream[] = [], steps = 0): void {
  const live = [...finite];
  if (live.length === 0) {
    for (let i = 0; i < steps; i++) for (const s of background) s.step(out);
    return;
  }
  const all = (): Stream[] => [...live, ...background];
  let streams = all();
  let total = streams.reduce((s, x) => s + x.weight, 0);
  while (live.length > 0) {
    let pick = rng.next() * total;
    let chosen = streams[streams.length - 1] as Stream;
    for (const s of streams) {
      pick -= s.weight;
      if (pick < 0) {
        chosen = s;
        break;
      }
    }
    if (!chosen.step(out) && live.includes(chosen)) {
      live.splice(live.indexOf(chosen), 1);
      streams = all();
      total = streams.reduce((s, x) => s + x.weight, 0);
    }
  }
}

/** `count` distinct VM indexes out of the fleet, at random. */
export function pickVms(rng: Prng, count: number): number[] {
  const all = Array.from({ length: FLEET.vms }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return all.slice(0, count);
}
