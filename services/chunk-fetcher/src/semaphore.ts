/** A counting semaphore with two priorities: at most `limit` holders; low-priority work waits behind normal work and never takes more than half the slots. */
export class Semaphore {
  private active = 0;
  private activeLow = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly waitingLow: (() => void)[] = [];

  constructor(private limit: number) {}

  /** Change the limit (config reload); waiters are admitted as room appears. */
  setLimit(limit: number): void {
    this.limit = limit;
    this.drain();
  }

  /** Holders right now. */
  get inUse(): number {
    return this.active;
  }

  /** Waiters right now. */
  get queued(): number {
    return this.waiting.length + this.waitingLow.length;
  }

  /** Run `fn` once a slot is free; `low` for background work such as warming an image. */
  async run<T>(fn: () => Promise<T>, low = false): Promise<T> {
    await new Promise<void>((r) => {
      (low ? this.waitingLow : this.waiting).push(r);
      this.drain();
    });
    try {
      return await fn();
    } finally {
      this.active--;
      if (low) this.activeLow--;
      this.drain();
    }
  }

  private drain(): void {
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()?.();
    }
    const lowLimit = Math.max(1, Math.floor(this.limit / 2));
    while (this.active < this.limit && this.activeLow < lowLimit && this.waiting.length === 0 && this.waitingLow.length > 0) {
      this.active++;
      this.activeLow++;
      this.waitingLow.shift()?.();
    }
  }
}
