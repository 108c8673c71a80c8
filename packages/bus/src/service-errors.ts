import type { Msg } from '@nats-io/transport-node';
import { ServiceError } from '@nats-io/services';

/** An error a service answered with respondError(code, text), or that a request to it met. */
export class BusError extends Error {
  readonly code: number;

  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusError';
    this.code = code;
  }
}

/** Throw a BusError when a reply carries a services-API error, else return the reply. */
export function checkReply(msg: Msg): Msg {
  const err = ServiceError.toServiceError(msg);
  if (err) throw new BusError(err.code, err.message);
  return msg;
}

/** Map a failed request (no responders, timeout) to a BusError with an HTTP-like code. */
export function requestFailure(err: unknown, what: string): BusError {
  if (err instanceof BusError) return err;
  const e = err as Error & { name?: string };
  const text = `${e?.name ?? ''} ${e?.message ?? ''}`.toLowerCase();
  if (text.includes('no responders') || text.includes('503')) return new BusError(503, `${what}: no service is running to answer`, { cause: err });
  if (text.includes('timeout')) return new BusError(504, `${what}: no answer in time`, { cause: err });
  return new BusError(503, `${what}: ${e?.message ?? String(err)}`, { cause: err });
}
