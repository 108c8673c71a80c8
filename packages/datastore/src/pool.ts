/** Run `worker` over `items` with at most `concurrency` at once; the first failure stops new work and is thrown. */
export async function forEachLimit<T>(items: AsyncIterable<T> | Iterable<T>, concurrency: number, worker: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  for await (const item of items) {
    if (failure) break;
    const p = worker(item).then(
      () => {
        running.delete(p);
      },
      (err) => {
        running.delete(p);
        failure ??= { err };
      },
    );
    running.add(p);
    if (running.size >= concurrency) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure) throw failure.err;
}
