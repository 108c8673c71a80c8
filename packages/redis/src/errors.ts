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
}

const CODE_MESSAGES: Record<IndexScriptCode, string> = {
  [IndexScriptCode.OK]: 'ok',
  [IndexScriptCode.NOT_FOUND]: 'not found',
  [IndexScriptCode.BAD_ARGUMENT]: 'bad argument',
  [IndexScriptCode.NOT_OWNER]: 'held by another owner',
  [IndexScriptCode.COMMAND_FAILED]: 'redis command failed',
  [IndexScriptCode.UNEXPECTED_REPLY]: 'unexpected reply',
};

/** Error raised by `@larder/redis`; `code` tells what went wrong, `cause` carries the underlying error if any. */
export class IndexError extends Error {
  override readonly name = 'IndexError';
  readonly code: IndexScriptCode;

  constructor(code: IndexScriptCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
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
