import { describe, expect, it } from 'vitest';
import { NbdErrno, StatusError, nbdErrnoOf, reasonOf, statusOf } from './index.js';

describe('StatusError', () => {
  it('maps to an HTTP status and an NBD errno', () => {
    expect(statusOf(new StatusError(404, 'no such image'))).toBe(404);
    expect(statusOf(new Error('boom'))).toBe(500);
    expect(statusOf('not an error')).toBe(500);
    expect(nbdErrnoOf(new StatusError(416, 'past the end'))).toBe(NbdErrno.EINVAL);
    expect(nbdErrnoOf(new StatusError(403, 'read only'))).toBe(NbdErrno.EPERM);
    expect(nbdErrnoOf(new StatusError(503, 'S3 unavailable'))).toBe(NbdErrno.EIO);
    expect(nbdErrnoOf(new StatusError(507, 'volume full'))).toBe(NbdErrno.ENOSPC);
    expect(reasonOf(507)).toBe('insufficient_storage');
    expect(nbdErrnoOf(new Error('boom'))).toBe(NbdErrno.EIO);
    expect(reasonOf(503)).toBe('unavailable');
    expect(reasonOf(418)).toBe('error');
  });

  it('keeps its cause and is subclassable', () => {
    class GoneError extends StatusError {
      constructor(what: string) {
        super(410, `${what} is gone`);
        this.name = 'GoneError';
      }
    }
    const cause = new Error('root');
    const e = new StatusError(502, 'bad bytes', { cause });
    expect(e.cause).toBe(cause);
    expect(statusOf(new GoneError('chunk'))).toBe(410);
  });
});
