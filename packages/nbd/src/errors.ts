import { nbdErrnoOf } from '@larder/errors';
import { NBD_ERR } from './constants.js';

/** The peer broke the protocol; the connection is ended. */
export class NbdProtocolError extends Error {
  override name = 'NbdProtocolError';
}

/** The socket ended or failed while a message was being read. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError';
  /** Bytes of the unfinished message that had arrived. */
  constructor(
    message: string,
    readonly partialBytes: number,
  ) {
    super(message);
  }
}

const KNOWN_ERRNOS: ReadonlySet<number> = new Set(Object.values(NBD_ERR));

/** The NBD error value for a rejection from an export: its own `nbdErrno` when valid, else `nbdErrnoOf` (its StatusError's status; EIO for anything else). */
export function toNbdErrno(err: unknown): number {
  if (typeof err === 'object' && err !== null && 'nbdErrno' in err) {
    const errno = err.nbdErrno;
    if (typeof errno === 'number' && KNOWN_ERRNOS.has(errno)) return errno;
  }
  return nbdErrnoOf(err);
}

/** A short human-readable description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
