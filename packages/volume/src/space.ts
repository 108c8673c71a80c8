import type { Volume } from './volume.js';

/** How long a statfs sample of the volume's filesystem is reused. */
const SAMPLE_MS = 100;

/** Room on the volume held for one write until it is released. */
export interface SpaceLease {
  readonly bytes: number;
  /** Give the room back: `written` when the file is now on the volume (its bytes are used until the next sample shows them). */
  release(written: boolean): void;
}

/** Why a reservation was refused: what the filesystem has, and what the writes in flight already hold. */
export interface SpaceShortfall {
  /** The bytes asked for plus those held by the writes in flight (what must fit above the reserve). */
  neededBytes: number;
  /** Free bytes above the reserve, less what finished writes took since the sample. */
  availableBytes: number;
  freeBytes: number;
  totalBytes: number;
  reserveBytes: number;
  /** The write can never fit: it is larger than the filesystem less its reserve. */
  never: boolean;
}

/**
 * Room for writes in flight on one volume: a write reserves its bytes against the filesystem's free space less
 * the reserve (`volume.reserve`) and less what the other writes in this process hold, before it writes. Per
 * process (every Volume of one directory in this process shares one); across processes the cache-index's
 * effective capacity keeps the reserve, and a write that still meets ENOSPC makes room and retries.
 */
export class VolumeSpace {
  private sample: { atMs: number; totalBytes: number; freeBytes: number } | undefined;
  private sampling: Promise<void> | undefined;
  /** Bytes held by reservations not yet released. */
  private reserved = 0;
  /** Bytes of writes finished since the sample was taken (the sample's free figure does not show them yet). */
  private writtenSinceSample = 0;

  constructor(private readonly volume: Pick<Volume, 'filesystem'>) {}

  /** Bytes held by the writes in flight. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /**
   * Reserve room for a write of `bytes`, keeping `reserveFraction` of the filesystem free; `fresh` takes a new
   * statfs sample first. A lease, or the shortfall when there is no room now.
   */
  async reserve(bytes: number, reserveFraction: number, fresh = false): Promise<SpaceLease | SpaceShortfall> {
    if (fresh || !this.sample || performance.now() - this.sample.atMs > SAMPLE_MS) await this.resample();
    const { totalBytes, freeBytes } = this.sample as NonNullable<VolumeSpace['sample']>;
    const reserveBytes = Math.ceil(totalBytes * reserveFraction);
    const availableBytes = freeBytes - reserveBytes - this.writtenSinceSample;
    const neededBytes = bytes + this.reserved;
    if (neededBytes > availableBytes) return { neededBytes, availableBytes, freeBytes, totalBytes, reserveBytes, never: bytes > totalBytes - reserveBytes };
    this.reserved += bytes;
    let released = false;
    return {
      bytes,
      release: (written) => {
        if (released) return;
        released = true;
        this.reserved -= bytes;
        if (written) this.writtenSinceSample += bytes;
      },
    };
  }

  private resample(): Promise<void> {
    // Writes finished before the statfs show in its free figure; one finishing while it runs may be counted twice (the safe side).
    const before = this.writtenSinceSample;
    this.sampling ??= this.volume
      .filesystem()
      .then((fs) => {
        this.sample = { atMs: performance.now(), ...fs };
        this.writtenSinceSample -= before;
      })
      .finally(() => (this.sampling = undefined));
    return this.sampling;
  }
}

const spaces = new Map<string, VolumeSpace>();

/** The one {@link VolumeSpace} of a volume's directory in this process. */
export function volumeSpace(volume: Volume): VolumeSpace {
  let s = spaces.get(volume.dir);
  if (!s) spaces.set(volume.dir, (s = new VolumeSpace(volume)));
  return s;
}

/** Whether a reservation was refused. */
export function isShortfall(r: SpaceLease | SpaceShortfall): r is SpaceShortfall {
  return 'neededBytes' in r;
}

/** Whether a failed write ran out of room (ENOSPC, or EDQUOT on a quota). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
