/** The shortest pause between two passes (an empty or tiny volume is not walked in a loop). */
const PASS_PAUSE_MS = 5_000;
/** How often a loop that is off (`enabled()` false, e.g. `volume.scrubRate: 0`) looks again. */
const IDLE_CHECK_MS = 5_000;

/** What a {@link ScrubLoop} runs. */
export interface ScrubLoopOptions {
  /** Whether to run passes now. */
  enabled: () => boolean;
  /** One pass; it paces itself with the loop's {@link ScrubLoop.sleep} and ends early once {@link ScrubLoop.stopped}. */
  pass: () => Promise<unknown>;
  /** A pass that failed (the next one runs after the pause as usual). */
  onError?: (err: unknown) => void;
}

/**
 * Background passes of a scrubber, one after another with a pause between them, while `enabled()`: the loop the
 * cache-index's chunk-file scrubber and the gateway's decoded-copy scrubber share. `stop` ends any sleep at once.
 */
export class ScrubLoop {
  private ended = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: ScrubLoopOptions) {}

  /** Whether {@link stop} was called: a pass under way should end. */
  get stopped(): boolean {
    return this.ended;
  }

  /** Run passes in the background until {@link stop}. */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.ended = true;
    this.wake?.();
    await this.loop;
  }

  /** Wait `ms` (a pass's pacing), or less once stopped; never holds the process open. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.ended) {
      if (!this.opts.enabled()) {
        await this.sleep(IDLE_CHECK_MS);
        continue;
      }
      await this.opts.pass().catch((err: unknown) => this.opts.onError?.(err));
      await this.sleep(PASS_PAUSE_MS);
    }
  }
}
