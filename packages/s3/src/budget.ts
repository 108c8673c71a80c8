import { AsyncLocalStorage } from 'node:async_hooks';

/** S3 operation classes a request budget limits separately: GET/HEAD, PUT/POST/COPY/DELETE, LIST. */
export type S3RequestClass = 'get' | 'put' | 'list';
/** Who a request is for: a client's read, readahead, or background work (warm, GC, imports). */
export type S3Priority = 'client' | 'readahead' | 'background';

/** A granted slot of a request budget (see RequestBudgets in @larder/redis). */
export interface S3BudgetLease {
  /** S3 answered with `status` (undefined: no answer); true when it is one of the budget's throttle statuses. */
  answered(status: number | undefined): boolean;
  /** The request is over: its concurrency slot is free. Idempotent. */
  release(): void;
  /** `Date.now()` by which the request must be sent to reach S3 in the second it was counted in (undefined: any time). */
  readonly sendBy?: number;
}

/** The node's request budgets, by name (the datastores' `budget`). */
export interface S3Budgets {
  acquire(name: string, cls: S3RequestClass, priority: S3Priority, signal?: AbortSignal): Promise<S3BudgetLease>;
  /** Whether any budget is configured now (absent: assumed so). */
  active?(): boolean;
}

/** S3 answered with a throttle status of the datastore's budget: worth retrying (through the budget, after a backoff). */
export class S3ThrottledError extends Error {
  override readonly name = 'S3ThrottledError';
  constructor(
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(`S3 throttled the request (HTTP ${status})`, options);
  }
}

let installed: S3Budgets | undefined;
const priorityScope = new AsyncLocalStorage<S3Priority>();
const attemptScope = new AsyncLocalStorage<AbortSignal>();

/**
 * Make `budgets` the process's request budgets (none installed: every request goes at once). Returns the undo, which
 * puts back the budgets it replaced unless another was installed since (several services in one process).
 */
export function useRequestBudgets(budgets: S3Budgets): () => void {
  const before = installed;
  installed = budgets;
  return () => {
    if (installed === budgets) installed = before;
  };
}

/**
 * Whether requests need their priority and attempt scopes: only a configured budget reads them. On Node 20 the first
 * `AsyncLocalStorage.run` turns on promise hooks for the rest of the process — a cost on every promise (4% of a warm
 * NBD read's gateway profile) that a node without budgets should not pay.
 */
function scoped(): boolean {
  return installed !== undefined && (installed.active?.() ?? true);
}

/** Run `fn` with its S3 requests at `priority` (default: client). */
export function withS3Priority<T>(priority: S3Priority, fn: () => T): T {
  return scoped() ? priorityScope.run(priority, fn) : fn();
}

/** Run one attempt of an S3 operation: its budget wait ends with the attempt's `signal` (withRetry sets it). */
export function inS3Attempt<T>(signal: AbortSignal, fn: () => T): T {
  return scoped() ? attemptScope.run(signal, fn) : fn();
}

/**
 * Wait for a slot of the datastore's budget for one request (undefined: the datastore has no budget, or the process
 * none installed). Rejects with a TimeoutError when `signal` (default: the current attempt's) aborts first.
 */
export async function acquireS3Slot(ds: { budget?: string }, cls: S3RequestClass, signal?: AbortSignal): Promise<S3BudgetLease | undefined> {
  if (ds.budget === undefined || !installed) return undefined;
  for (;;) {
    const lease = await installed.acquire(ds.budget, cls, priorityScope.getStore() ?? 'client', signal ?? attemptScope.getStore());
    // Granted near the end of its second and delayed here (a busy event loop): S3 would count it in the next one.
    if (lease.sendBy === undefined || Date.now() <= lease.sendBy) return lease;
    lease.release();
  }
}

/**
 * Send one S3 request within the datastore's budget: wait for a slot, send, tell the budget the answer's status
 * (`statusOf` a result; a failure's `$metadata.httpStatusCode`). A throttle answer becomes an {@link S3ThrottledError}.
 */
export async function budgeted<T>(ds: { budget?: string }, cls: S3RequestClass, send: () => Promise<T>, statusOf?: (result: T) => number | undefined): Promise<T> {
  const lease = await acquireS3Slot(ds, cls);
  if (!lease) return send();
  try {
    const result = await send();
    const status = statusOf?.(result);
    if (lease.answered(status) && status !== undefined) throw new S3ThrottledError(status);
    return result;
  } catch (err) {
    if (err instanceof S3ThrottledError) throw err;
    const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
    if (lease.answered(status) && status !== undefined) throw new S3ThrottledError(status, { cause: err });
    throw err;
  } finally {
    lease.release();
  }
}

/** The class of an S3 request by method and whether it names an object (a GET of a bucket is a listing). */
export function s3RequestClass(method: string, hasKey: boolean): S3RequestClass {
  if (method === 'GET' || method === 'HEAD') return hasKey || method === 'HEAD' ? 'get' : 'list';
  return 'put';
}

/** The class of an AWS SDK command by its name (`ListObjectsV2Command`, `GetObjectCommand`, ...). */
export function s3CommandClass(commandName: string | undefined): S3RequestClass {
  if (commandName === undefined) return 'get';
  if (/^List/.test(commandName)) return 'list';
  if (/^(Get|Head)/.test(commandName)) return 'get';
  return 'put';
}
