/** Bounds of a {@link Semaphore}: holders at once, and the sum of their weights (bytes in flight). */
export interface SemaphoreLimits {
  count: number;
  weight: number;
}

interface Waiter {
  weight: number;
  admit: () => void;
}

/**
 * A weighted semaphore with two priorities: at most `count` holders whose weights sum to at most `weight`
 * (one holder is always let in, whatever its weight); low-priority work waits behind normal work and never
 * takes more than half of either bound. Waiters are served in order, so a heavy one is not starved by light ones.
 */
export class Semaphore {
  private active = 0;
  private activeWeight = 0;
  private activeLow = 0;
  private activeLowWeight = 0;
  private readonly waiting: Waiter[] = [];
  private readonly waitingLow: Waiter[] = [];

  constructor(private limits: SemaphoreLimits) {}

  /** Change the bounds (config reload); waiters are admitted as room appears. */
  setLimits(limits: SemaphoreLimits): void {
    this.limits = limits;
    this.drain();
  }

  /** Holders right now. */
  get inUse(): number {
    return this.active;
  }

  /** Sum of the holders' weights right now. */
  get weightInUse(): number {
    return this.activeWeight;
  }

  /** Waiters right now. */
  get queued(): number {
    return this.waiting.length + this.waitingLow.length;
  }

  /** Run `fn` once there is room for `weight`; `low` for background work such as warming an image. */
  async run<T>(fn: () => Promise<T>, opts: { weight?: number; low?: boolean } = {}): Promise<T> {
    const weight = Math.max(0, opts.weight ?? 1);
    const low = opts.low ?? false;
    await new Promise<void>((admit) => {
      (low ? this.waitingLow : this.waiting).push({ weight, admit });
      this.drain();
    });
    try {
      return await fn();
    } finally {
      this.active--;
      this.activeWeight -= weight;
      if (low) {
        this.activeLow--;
        this.activeLowWeight -= weight;
      }
      this.drain();
    }
  }

  private fits(count: number, used: number, weight: number, limits: SemaphoreLimits): boolean {
    return count === 0 || (count < limits.count && used + weight <= limits.weight);
  }

  private drain(): void {
    for (let next = this.waiting[0]; next && this.fits(this.active, this.activeWeight, next.weight, this.limits); next = this.waiting[0]) {
      this.waiting.shift();
      this.active++;
      this.activeWeight += next.weight;
      next.admit();
    }
    if (this.waiting.length > 0) return;
    const half = { count: Math.max(1, Math.floor(this.limits.count / 2)), weight: this.limits.weight / 2 };
    for (let next = this.waitingLow[0]; next; next = this.waitingLow[0]) {
      if (!this.fits(this.active, this.activeWeight, next.weight, this.limits)) break;
      if (this.activeLow > 0 && !this.fits(this.activeLow, this.activeLowWeight, next.weight, half)) break;
      this.waitingLow.shift();
      this.active++;
      this.activeWeight += next.weight;
      this.activeLow++;
      this.activeLowWeight += next.weight;
      next.admit();
    }
  }
}
