import { StatusError } from '@larder/errors';

/**
 * The one mapping of Lua script return codes (first element of every script
 * reply, see the headers of `src/scripts/*.lua`) to {@link IndexError}s.
 * Codes at or below -100 are never returned by a script; they classify
 * failures around the script call.
 */
export enum IndexScriptCode {
  /** Success. */
  OK = 0,
  /** The target (lock) does not exist: never taken, released or expired. */
  NOT_FOUND = -1,
  /** An argument failed validation; nothing was changed. */
  BAD_ARGUMENT = -2,
  /** The lock is held by someone else (token mismatch); nothing was changed. */
  NOT_OWNER = -3,
  /** Not a script code: the Redis command itself failed (connection, timeout, ...); see `cause`. */
  COMMAND_FAILED = -100,
  /** Not a script code: a reply did not have the documented shape. */
  UNEXPECTED_REPLY = -101,
  /** Not a script code: a wait ran out of time (a GC claim did not end, see {@link ClaimWaitTimeoutError}). */
  TIMED_OUT = -102,
}

const CODE_MESSAGES: Record<IndexScriptCode, string> = {
  [IndexScriptCode.OK]: 'ok',
  [IndexScriptCode.NOT_FOUND]: 'not found',
  [IndexScriptCode.BAD_ARGUMENT]: 'bad argument',
  [IndexScriptCode.NOT_OWNER]: 'held by another owner',
  [IndexScriptCode.COMMAND_FAILED]: 'redis command failed',
  [IndexScriptCode.UNEXPECTED_REPLY]: 'unexpected reply',
  [IndexScriptCode.TIMED_OUT]: 'timed out',
};

/**
 * Error raised by `@larder/redis`; `code` tells what went wrong, `cause` carries the underlying error if any.
 * A {@link StatusError}: 500 unless a subclass says otherwise ({@link RedisUnavailableError} is 503).
 */
export class IndexError extends StatusError {
  override readonly name: string = 'IndexError';
  readonly code: IndexScriptCode;

  constructor(code: IndexScriptCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(options?.status ?? 500, message, options);
    this.code = code;
  }
}

/**
 * Redis could not be reached (connection refused or lost, still loading its data set): the command was not run.
 * A COMMAND_FAILED {@link IndexError} with HTTP status 503, so callers map it by `statusOf(err)`; the client keeps
 * reconnecting in the background.
 */
export class RedisUnavailableError extends IndexError {
  override readonly name: string = 'RedisUnavailableError';

  constructor(op: string, detail: string, options?: { cause?: unknown }) {
    super(IndexScriptCode.COMMAND_FAILED, `cache index (Redis) unavailable: ${op}: ${detail}`, { ...options, status: 503 });
  }
}

/**
 * A writer waited longer than it may for GC claims on chunks it must upload to end (`ChunkTouches.awaitUnclaimed`):
 * a TIMED_OUT {@link IndexError} with HTTP status 503 (retry later), nothing was written.
 */
export class ClaimWaitTimeoutError extends IndexError {
  override readonly name: string = 'ClaimWaitTimeoutError';

  constructor(
    readonly store: string,
    readonly claimed: number,
    timeoutMs: number,
  ) {
    super(IndexScriptCode.TIMED_OUT, `${claimed} chunk(s) of datastore ${store} still claimed by GC after ${timeoutMs} ms`, { status: 503 });
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Whether a failed Redis command failed because Redis was unreachable rather than because of the command: ioredis's
 * "Connection is closed", "Stream isn't writeable" (no offline queue), MaxRetriesPerRequestError, socket errnos, and
 * replies that say the server cannot serve yet (LOADING, MASTERDOWN, TRYAGAIN).
 */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  return /^(Connection is closed|Stream isn't writeable|LOADING |MASTERDOWN |TRYAGAIN |connect E)/.test(err.message);
}

/** The error for a Redis command of `op` that threw `err`: {@link RedisUnavailableError} for a connection failure, else COMMAND_FAILED. */
export function commandFailed(op: string, err: unknown): IndexError {
  if (err instanceof IndexError) return err;
  const text = err instanceof Error ? err.message : String(err);
  // ioredis's words for "the connection is down and commands are not queued" (see createRedis).
  if (isConnectionFailure(err)) return new RedisUnavailableError(op, text.startsWith("Stream isn't writeable") ? 'not connected (reconnecting)' : text, { cause: err });
  return indexError(IndexScriptCode.COMMAND_FAILED, op, text, err);
}

/** Whether `code` is one of the {@link IndexScriptCode} values. */
export function isIndexScriptCode(code: unknown): code is IndexScriptCode {
  return typeof code === 'number' && code in CODE_MESSAGES;
}

/** Build the {@link IndexError} for a code returned by (or around) operation `op`. */
export function indexError(code: IndexScriptCode, op: string, detail?: string, cause?: unknown): IndexError {
  const text = `${op}: ${CODE_MESSAGES[code]}${detail ? ` (${detail})` : ''}`;
  return new IndexError(code, text, cause === undefined ? undefined : { cause });
}

/** Throw a BAD_ARGUMENT {@link IndexError} unless `value` is a safe integer >= `min`. */
export function assertInteger(op: string, name: string, value: unknown, min = 0): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const bound = min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
    throw indexError(IndexScriptCode.BAD_ARGUMENT, op, `${name} must be ${bound}, got ${String(value)}`);
  }
}

/** Throw a BAD_ARGUMENT {@link IndexError} unless `value` is a non-empty string. */
export function assertKey(op: string, name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw indexError(IndexScriptCode.BAD_ARGUMENT, op, `${name} must be a non-empty string`);
  }
}
