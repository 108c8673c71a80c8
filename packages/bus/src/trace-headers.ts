import { context, propagation, type Context } from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';

/** Headers carrying the active trace context (W3C traceparent) into a NATS message; undefined when tracing is off. */
export function traceHeaders(ctx: Context = context.active()): MsgHdrs | undefined {
  const h = natsHeaders();
  propagation.inject(ctx, h, { set: (carrier, key, value) => carrier.set(key, value) });
  return h.keys().length > 0 ? h : undefined;
}

/** The trace context a NATS message carries, or the active one when it carries none. */
export function contextFromHeaders(h: MsgHdrs | undefined): Context {
  if (!h) return context.active();
  return propagation.extract(context.active(), h, {
    get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
    keys: (carrier) => carrier.keys(),
  });
}
