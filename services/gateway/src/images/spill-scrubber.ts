import { createLogger } from '@larder/telemetry';
import { ScrubLoop } from '@larder/volume';
import type { DecodedSpill } from './decoded-spill.js';

const log = createLogger('gateway');

/** What the scrubber has done since start: shown in `decodedSpill` of /v1/status. */
export interface SpillScrubStatus {
  rateBytesPerSec: number;
  passes: number;
  bytes: number;
}

/**
 * Re-reads the spill's extents in the background, in the order they were written, at `rate()` bytes per second (the volume's
 * `volume.scrubRate`, as the chunk scrubber) and checks them against the CRCs taken when they were written: a copy that
 * rotted on the volume is dropped before long (DecodedSpill.verify), where a check on every read would cost warm
 * restores about as much CPU as the rest of the read. One pass after another; none while the spill is empty.
 */
export class SpillScrubber {
  private readonly loop = new ScrubLoop({
    enabled: () => this.rate() > 0 && this.spill.count > 0,
    pass: () => this.pass(true),
  });
  private buf = Buffer.alloc(0);
  passes = 0;
  bytes = 0;

  constructor(
    private readonly spill: DecodedSpill,
    private readonly rate: () => number,
  ) {}

  get status(): SpillScrubStatus {
    return { rateBytesPerSec: this.rate(), passes: this.passes, bytes: this.bytes };
  }

  /** Run passes in the background until {@link stop}. */
  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /**
   * One pass over the extents held now; `paced`: at `rate()` bytes per second (else as fast as it reads: tests, and a
   * pass on demand). Returns the extents found corrupt.
   */
  async pass(paced = false): Promise<number> {
    const before = this.spill.corrupt;
    for (const held of this.spill.held()) {
      if (this.loop.stopped) break;
      const e = this.spill.acquire(held.key);
      if (e !== held) {
        if (e) this.spill.release(e);
        continue; // dropped, or written anew, since the pass began
      }
      const t0 = Date.now();
      try {
        if (this.buf.length < e.length) this.buf = Buffer.allocUnsafeSlow(e.length);
        await this.spill.verify(e, this.buf);
        this.bytes += e.length;
      } catch (err) {
        log.warn('decoded chunk copies: a scrub read failed', { chunk: e.key, err: (err as Error).message });
      } finally {
        this.spill.release(e);
      }
      const rate = this.rate();
      if (paced && rate > 0) await this.loop.sleep((e.length / rate) * 1000 - (Date.now() - t0));
    }
    this.passes++;
    return this.spill.corrupt - before;
  }
}
