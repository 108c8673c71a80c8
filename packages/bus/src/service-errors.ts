import { StatusError } from '@larder/errors';
import { errors, type Msg } from '@nats-io/transport-node';
import { ServiceError } from '@nats-io/services';

/** A failure a service answered with (`respondError(status, text)`), or that a request to it met: a StatusError. */
export class BusError extends StatusError {
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(status, message, options);
    this.name = 'BusError';
  }
}

/** Throw a BusError when a reply carries a services-API error, else return the reply. */
export function checkReply(msg: Msg): Msg {
  const err = ServiceError.toServiceError(msg);
  if (err) throw new BusError(err.code, err.message);
  return msg;
}

/**
 * Classify a failed request by nats.js's typed errors: no answer in time (TimeoutError) is a 504; the NATS user may
 * not publish to the subject (PermissionViolationError, e.g. a config change by a user other than the admin) is a
 * 403; no service listening (NoRespondersError, alone or as a RequestError's cause), a closed or draining connection,
 * or anything else is a 503. A StatusError passes through.
 */
export function requestFailure(err: unknown, what: string): StatusError {
  if (err instanceof StatusError) return err;
  const denied = err instanceof errors.PermissionViolationError ? err : err instanceof Error && err.cause instanceof errors.PermissionViolationError ? err.cause : undefined;
  if (denied) return new BusError(403, `${what}: this NATS user may not ${denied.operation} to ${denied.subject || 'that subject'}`, { cause: err });
  if (err instanceof errors.TimeoutError) return new BusError(504, `${what}: no answer in time`, { cause: err });
  if (err instanceof errors.NoRespondersError || (err instanceof errors.RequestError && err.isNoResponders())) {
    return new BusError(503, `${what}: no service is running to answer`, { cause: err });
  }
  return new BusError(503, `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
