/** A counting semaphore: at most `limit` holders at once, the rest wait in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

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
    return this.waiting.length;
  }

  /** Run `fn` once a slot is free. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.drain();
    }
  }

  private drain(): void {
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()?.();
    }
  }
}
