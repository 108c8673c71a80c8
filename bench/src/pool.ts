/** Run `worker(i)` for i in [0, count) with at most `concurrency` running at once; stops early once `deadline` (performance.now() ms) has passed. */
export async function runPool(count: number, concurrency: number, worker: (index: number) => Promise<void>, deadline = Number.POSITIVE_INFINITY): Promise<number> {
  let next = 0;
  let started = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      started++;
      await worker(i);
    }
  });
  await Promise.all(lanes);
  return started;
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
