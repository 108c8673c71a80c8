import { inS3Attempt, S3ThrottledError } from './budget.js';
import { classifyS3Error, S3Error } from './errors.js';

/** How hard to try: a total deadline, a retry count and the first backoff (doubled each time, with jitter). */
export interface RetryPolicy {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { timeoutMs: 15_000, retries: 3, backoffMs: 100 };

/** The longest backoff after a throttle answer. */
const MAX_THROTTLE_BACKOFF_MS = 2000;

/**
 * Run an S3 operation with per-attempt abort signals, retrying transient failures until the deadline. Throttle
 * answers of the datastore's budget ({@link S3ThrottledError}) are retried until the deadline whatever `retries`
 * says — each retry waits for its slot in the budget, whose rate the answer cut, so there is no retry storm.
 */
export async function withRetry<T>(key: string, policy: RetryPolicy, op: (signal: AbortSignal) => Promise<T>, onRetry?: (attempt: number, err: unknown) => void): Promise<T> {
  const deadline = Date.now() + policy.timeoutMs;
  let failures = 0;
  let throttles = 0;
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now();
    const signal = AbortSignal.timeout(Math.max(1, remaining));
    try {
      return await inS3Attempt(signal, () => op(signal));
    } catch (err) {
      const c = classifyS3Error(signal.aborted ? Object.assign(new Error('timeout'), { name: 'TimeoutError' }) : err);
      const message = (err as Error)?.message ?? String(err);
      const throttled = err instanceof S3ThrottledError && !signal.aborted;
      if (!c.transient || (!throttled && failures >= policy.retries)) {
        throw new S3Error(c.kind, key, describe(c.kind, key, message, attempt + 1), { cause: err });
      }
      const wait = throttled
        ? Math.min(MAX_THROTTLE_BACKOFF_MS, policy.backoffMs * 2 ** throttles++) * (0.5 + Math.random() / 2)
        : policy.backoffMs * 2 ** failures++ * (0.5 + Math.random() / 2);
      if (Date.now() + wait >= deadline) {
        throw new S3Error('timeout', key, describe('timeout', key, message, attempt + 1), { cause: err });
      }
      onRetry?.(attempt + 1, err);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

function describe(kind: string, key: string, message: string, attempts: number): string {
  const what = {
    'not-found': 'no such object in S3',
    denied: 'S3 refused access',
    unavailable: 'S3 unavailable',
    timeout: 'S3 did not answer in time',
    failed: 'S3 request failed',
  }[kind];
  return `${what}: ${key} (${message}; ${attempts} attempt${attempts === 1 ? '' : 's'})`;
}
