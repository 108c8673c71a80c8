/** Why a GC run stopped: `failed` (a malformed or unreadable index, a verification miss, an S3 or Redis failure) or `cancelled`. */
export class GcAbort extends Error {
  constructor(
    readonly outcome: 'failed' | 'cancelled',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GcAbort';
  }
}

/** Throw a `cancelled` GcAbort when the run's signal is aborted (called at safe points only). */
export function checkCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new GcAbort('cancelled', 'cancelled');
}
