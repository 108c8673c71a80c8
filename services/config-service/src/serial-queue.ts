/** Runs operations one at a time, in call order; a failed operation does not stop the ones after it. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Run `op` after every operation queued before it. */
  run<T>(op: () => Promise<T>): Promise<T> {
    const run = this.tail.then(op, op);
    this.tail = run.catch(() => {});
    return run;
  }

  /** Settles when the operations queued so far are done. */
  idle(): Promise<unknown> {
    return this.tail;
  }
}
