/**
 * A keyed in-flight map: concurrent `run`s of one key share the first caller's promise, which leaves the map
 * when it settles. Single flight within a process; across processes the chunk-fetchers add a Redis lock.
 */
export class SingleFlight<T, K = string> {
  private readonly inflight = new Map<K, Promise<T>>();

  /** The promise under way for `key`, else the one `start()` returns. */
  run(key: K, start: () => Promise<T>): Promise<T> {
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = start().finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    this.inflight.set(key, p);
    return p;
  }

  /** The promise under way for `key`, if any. */
  get(key: K): Promise<T> | undefined {
    return this.inflight.get(key);
  }

  /** Whether `key` is under way. */
  has(key: K): boolean {
    return this.inflight.has(key);
  }

  /** How many keys are under way. */
  get size(): number {
    return this.inflight.size;
  }
}
