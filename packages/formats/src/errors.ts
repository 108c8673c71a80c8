import type { FormatErrorCode } from './types.js';

/** The single error type of @larder/formats: a stable `code` plus a specific message. */
export class FormatError extends Error {
  readonly code: FormatErrorCode;

  constructor(code: FormatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FormatError';
    this.code = code;
  }
}

/** Whether a value is a FormatError (optionally with the given code). */
export function isFormatError(err: unknown, code?: FormatErrorCode): err is FormatError {
  return err instanceof FormatError && (code === undefined || err.code === code);
}
