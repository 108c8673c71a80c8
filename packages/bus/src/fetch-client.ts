import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeJson, encodeJson } from './codec.js';
import type { FetchReply, FetchRequest } from './fetch-wire.js';
import { checkReply, requestFailure } from './service-errors.js';
import { subjects } from './subjects.js';
import { traceHeaders } from './trace-headers.js';

const tr = trace.getTracer('larder.bus');

/**
 * Asks the chunk-fetchers (a NATS queue group) to bring a chunk into the volume: one request/reply, the trace
 * context in its headers. Fails with a StatusError: the fetcher's own status (404, 502, …), 503 when no
 * fetcher answers, 504 when none answers in time.
 */
export class FetchClient {
  constructor(
    private readonly nc: NatsConnection,
    /** Read per request, so that a config reload applies. */
    private readonly settings: () => { namespace: string; timeoutMs: number },
  ) {}

  /** Fetch a chunk into the volume; store and digest must already be validated. */
  fetch(store: string, digest: string, priority: FetchRequest['priority'] = 'normal'): Promise<FetchReply> {
    const { namespace, timeoutMs } = this.settings();
    const subject = subjects(namespace).fetch;
    const req: FetchRequest = { store, digest, ...(priority === 'low' ? { priority } : {}) };
    return tr.startActiveSpan('nats request chunk.fetch', { kind: SpanKind.CLIENT, attributes: { 'messaging.destination': subject } }, context.active(), async (span) => {
      try {
        const msg = await this.nc.request(subject, encodeJson(req), { timeout: timeoutMs, headers: traceHeaders() }).catch((err) => {
          throw requestFailure(err, `fetching chunk ${digest} of ${store}`);
        });
        return decodeJson<FetchReply>(checkReply(msg).data);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }
}
