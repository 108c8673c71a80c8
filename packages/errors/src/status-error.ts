/**
 * The one error that carries an outcome: an HTTP status, which also names the NBD errno and the code a
 * service answers with over NATS. Subclass it to give a failure a name (`ConfigChangeError`,
 * `RedisUnavailableError`), never to add another status field.
 */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StatusError';
  }
}

/** The status of any thrown value: a StatusError's own, else 500. */
export function statusOf(err: unknown): number {
  return err instanceof StatusError ? err.status : 500;
}

/** NBD error values (the NBD protocol's errno numbers, which are Linux's). */
export const NbdErrno = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ENOTSUP: 95, ESHUTDOWN: 108 } as const;

/** The NBD errno for a failure: EINVAL for a request that cannot be satisfied (400, 416), EPERM for 401/403, ENOSPC for 507, else EIO. */
export function nbdErrnoOf(err: unknown): number {
  const status = statusOf(err);
  if (status === 400 || status === 416) return NbdErrno.EINVAL;
  if (status === 401 || status === 403) return NbdErrno.EPERM;
  if (status === 507) return NbdErrno.ENOSPC;
  return NbdErrno.EIO;
}

/** Short reason names for the JSON error bodies of the HTTP routes. */
const REASONS: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  416: 'range_not_satisfiable',
  422: 'malformed_index',
  500: 'internal',
  502: 'bad_upstream_data',
  503: 'unavailable',
  504: 'timeout',
  507: 'insufficient_storage',
};

/** The reason name of a status (`error` for one without a name). */
export function reasonOf(status: number): string {
  return REASONS[status] ?? 'error';
}
