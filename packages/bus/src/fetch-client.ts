import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Status, type Subscription } from '@nats-io/transport-node';
import { ServiceErrorCodeHeader } from '@nats-io/services';
import type { StatusError } from '@larder/errors';
import { createLogger } from '@larder/telemetry';
import { decodeJson, encodeJson } from './codec.js';
import { FETCH_PROGRESS_HEADER, type FetchReply, type FetchRequest } from './fetch-wire.js';
import { BusError, checkReply, requestFailure } from './service-errors.js';
import { subjects } from './subjects.js';
import { traceHeaders } from './trace-headers.js';

const tr = trace.getTracer('larder.bus');
const log = createLogger('bus.fetch');

/** How often pending fetches are checked for silence, re-sends due and the end of their budget. */
const TICK_MS = 200;
/** Waits before re-sending a request that met no chunk-fetcher (NATS's no-responders answer), one per consecutive miss. */
const NO_RESPONDERS_BACKOFF_MS = [250, 500, 1000, 2000];
/** Re-sends are logged as a summary at most this often. */
const LOG_EVERY_MS = 5000;
/** The default of `livenessMs` (`gateway.fetchLivenessTimeout`). */
const DEFAULT_LIVENESS_MS = 3000;

/** What a FetchClient reads per request, so that a config reload applies. */
export interface FetchClientSettings {
  namespace: string;
  /** The whole budget of one fetch, re-sends included (`gateway.requestTimeout`). */
  timeoutMs: number;
  /** Re-send a request when neither progress nor a reply came for this long (`gateway.fetchLivenessTimeout`; default 3 s). */
  livenessMs?: number;
}

/** Why a request was (re-)sent. */
type SendReason = 'first' | 'silence' | 'no-responders' | 'reconnect';

/** One fetch under way: its request, its budget, and what was last heard of it. */
interface PendingFetch {
  readonly token: string;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
  /** For error messages: `fetching chunk D of S`. */
  readonly what: string;
  readonly timeoutMs: number;
  readonly livenessMs: number;
  readonly deadline: number;
  readonly span: Span;
  /** Last send, or last progress message from a fetcher: silence is measured from here. */
  lastSign: number;
  /** After a no-responders answer: when to send again. */
  resendAt: number | undefined;
  /** No-responders answers in a row. */
  noResponders: number;
  /** What was heard last: decides the status when the budget runs out. */
  last: 'nothing' | 'sent' | 'progress' | 'no-responders';
  sends: number;
  settle(err: StatusError | undefined, reply?: FetchReply): void;
}

/**
 * Asks the chunk-fetchers (a NATS queue group) to bring a chunk into the volume, and makes sure a lost request is
 * noticed within seconds rather than at the end of the budget. Each request goes out with its own reply subject (under
 * one inbox subscription of this client) and asks for progress messages (`Larder-Progress`, see fetch-wire.ts): the
 * fetcher holding it sends one at once and then every second until its reply. When nothing comes for `livenessMs`
 * (the fetcher died, or NATS lost the request), when NATS answers that no fetcher listens, or at once when the NATS
 * connection comes back after an outage, the same request is sent again to the queue group (so possibly to another
 * fetcher; fetchers share one fetch of a chunk through its Redis lock) — within the budget `timeoutMs`. A reply to any
 * of the sends answers the fetch. When the budget runs out the error names the cause: 503 when no fetcher is running
 * or NATS is unreachable, 504 when fetchers were alive but did not finish in time. A fetcher too old to send progress
 * gets a re-send every `livenessMs` (it joins its own fetch of the chunk), bounded by the budget. When no fetcher has
 * answered for a whole budget, a request that meets none fails at once with 503 instead of waiting again.
 * The fetcher's own failure status (404, 502, …) is passed on as a StatusError.
 */
export class FetchClient {
  private readonly pending = new Map<string, PendingFetch>();
  private inbox: { prefix: string; sub: Subscription } | undefined;
  private seq = 0;
  private ticker: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private status: AsyncIterable<Status> | undefined;
  private connected = true;
  /** Since when every request met no fetcher (cleared by any message from a fetcher). */
  private noFetcherSince: number | undefined;
  private readonly resent: Record<Exclude<SendReason, 'first'>, number> = { silence: 0, 'no-responders': 0, reconnect: 0 };
  private readonly counters = { fetches: 0, resent: 0 };
  private lastLog = 0;

  constructor(
    private readonly nc: NatsConnection,
    /** Read per request, so that a config reload applies. */
    private readonly settings: () => FetchClientSettings,
  ) {
    void this.watchConnection();
  }

  /** Fetch a chunk into the volume; store and digest must already be validated. */
  fetch(store: string, digest: string, priority: FetchRequest['priority'] = 'normal'): Promise<FetchReply> {
    const { namespace, timeoutMs, livenessMs = DEFAULT_LIVENESS_MS } = this.settings();
    const subject = subjects(namespace).fetch;
    const req: FetchRequest = { store, digest, ...(priority === 'low' ? { priority } : {}) };
    const what = `fetching chunk ${digest} of ${store}`;
    return tr.startActiveSpan('nats request chunk.fetch', { kind: SpanKind.CLIENT, attributes: { 'messaging.destination': subject } }, context.active(), (span) => {
      const headers = traceHeaders() ?? natsHeaders();
      headers.set(FETCH_PROGRESS_HEADER, '1');
      return new Promise<FetchReply>((resolve, reject) => {
        const now = Date.now();
        const p: PendingFetch = {
          token: String(++this.seq),
          subject,
          data: encodeJson(req),
          headers,
          what,
          timeoutMs,
          livenessMs: Math.max(TICK_MS, livenessMs),
          deadline: now + timeoutMs,
          span,
          lastSign: now,
          resendAt: undefined,
          noResponders: 0,
          last: 'nothing',
          sends: 0,
          settle: (err, reply) => {
            if (this.pending.get(p.token) !== p) return;
            this.pending.delete(p.token);
            if (this.pending.size === 0) this.stopTicker();
            span.setAttribute('larder.fetch.sends', p.sends);
            if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
            span.end();
            if (err) reject(err);
            else resolve(reply as FetchReply);
          },
        };
        try {
          this.ensureInbox();
        } catch (err) {
          this.pending.set(p.token, p);
          return p.settle(requestFailure(err, what));
        }
        this.pending.set(p.token, p);
        this.counters.fetches++;
        this.startTicker();
        // While NATS is down the request waits for the reconnect, which sends it.
        if (this.connected) this.send(p, 'first');
      });
    });
  }

  /** Fetches waiting now, fetches asked for since start, and re-sends made. */
  stats(): { pending: number; fetches: number; resent: number } {
    return { pending: this.pending.size, ...this.counters };
  }

  /** Stop: fail the fetches still waiting (503) and drop the inbox subscription and the connection watch. */
  close(): void {
    for (const p of [...this.pending.values()]) p.settle(new BusError(503, `${p.what}: the gateway is stopping`));
    this.stopTicker();
    // nats.js's status iterator has stop() (typed as a plain AsyncIterable).
    (this.status as { stop?: () => void } | undefined)?.stop?.();
    this.inbox?.sub.unsubscribe();
    this.inbox = undefined;
  }

  /** One subscription for every reply: `<inbox>.<token>`; nats.js renews it after a reconnect. */
  private ensureInbox(): { prefix: string; sub: Subscription } {
    if (this.inbox && !this.inbox.sub.isClosed()) return this.inbox;
    const prefix = createInbox();
    const sub = this.nc.subscribe(`${prefix}.*`, { callback: (err, msg) => (err ? undefined : this.onMessage(msg)) });
    this.inbox = { prefix, sub };
    return this.inbox;
  }

  /** Publish the request (again) to the queue group; a closed connection fails it with 503. */
  private send(p: PendingFetch, reason: SendReason): void {
    const inbox = this.inbox;
    if (!inbox) return p.settle(new BusError(503, `${p.what}: the gateway is stopping`));
    p.sends++;
    p.lastSign = Date.now();
    p.resendAt = undefined;
    p.last = 'sent';
    if (reason !== 'first') {
      this.resent[reason]++;
      this.counters.resent++;
      p.span.addEvent('fetch re-sent', { reason, sends: p.sends });
    }
    try {
      this.nc.publish(p.subject, p.data, { reply: `${inbox.prefix}.${p.token}`, headers: p.headers });
    } catch (err) {
      p.settle(requestFailure(err, p.what));
    }
  }

  /** A message on the inbox: progress, NATS's no-responders, or the reply (a fetcher's result or error). */
  private onMessage(msg: Msg): void {
    const inbox = this.inbox;
    if (!inbox) return;
    const p = this.pending.get(msg.subject.slice(inbox.prefix.length + 1));
    if (!p) return; // a late answer to a fetch already answered
    const now = Date.now();
    if (msg.headers?.has(FETCH_PROGRESS_HEADER)) {
      this.noFetcherSince = undefined;
      p.lastSign = now;
      p.noResponders = 0;
      p.last = 'progress';
      return;
    }
    if (isNoResponders(msg)) {
      // No fetcher listens (killed, restarting, or its connection not back yet): ask again after a short wait, until
      // the budget runs out; when none has answered for a whole budget already, fail at once.
      this.noFetcherSince ??= now;
      if (now - this.noFetcherSince >= p.timeoutMs) return p.settle(noFetcher(p));
      p.last = 'no-responders';
      p.resendAt = Math.min(p.deadline, now + (NO_RESPONDERS_BACKOFF_MS[Math.min(p.noResponders, NO_RESPONDERS_BACKOFF_MS.length - 1)] ?? 1000));
      p.noResponders++;
      return;
    }
    this.noFetcherSince = undefined;
    let reply: FetchReply;
    try {
      reply = decodeJson<FetchReply>(checkReply(msg).data);
    } catch (err) {
      return p.settle(requestFailure(err, p.what));
    }
    p.settle(undefined, reply);
  }

  /** Every TICK_MS while fetches wait: end those out of budget, re-send the silent ones and those due after no-responders. */
  private tick(): void {
    const now = Date.now();
    // This process was busy (the tick is late): messages that arrived meanwhile are read before the next tick, so
    // silence is not judged now — a busy gateway must not re-send everything it waits for.
    const late = now - this.lastTick > 5 * TICK_MS;
    this.lastTick = now;
    for (const p of [...this.pending.values()]) {
      if (now >= p.deadline) p.settle(this.outOfBudget(p));
      else if (!this.connected || late) continue;
      else if (p.resendAt !== undefined) {
        if (now >= p.resendAt) this.send(p, 'no-responders');
      } else if (now - p.lastSign >= p.livenessMs) this.send(p, p.sends === 0 ? 'first' : 'silence');
    }
    this.logResends(now);
  }

  /** The status of a fetch whose budget ran out, by what was heard last. */
  private outOfBudget(p: PendingFetch): StatusError {
    if (!this.connected) return new BusError(503, `${p.what}: NATS is unreachable (reconnecting); no answer within ${p.timeoutMs} ms`);
    if (p.last === 'no-responders') return noFetcher(p);
    if (p.last === 'progress') return new BusError(504, `${p.what}: no answer in time: the chunk-fetchers are working on it but did not finish within ${p.timeoutMs} ms`);
    return new BusError(504, `${p.what}: no answer in time (${p.timeoutMs} ms, ${p.sends} ${p.sends === 1 ? 'request' : 'requests'} sent)`);
  }

  /** Follow the NATS connection: while it is down nothing is sent; when it is back every waiting fetch is sent again at once. */
  private async watchConnection(): Promise<void> {
    const status = this.nc.status();
    this.status = status;
    try {
      for await (const s of status) {
        if (s.type === 'disconnect' || s.type === 'staleConnection') this.connected = false;
        else if (s.type === 'reconnect') {
          this.connected = true;
          const waiting = [...this.pending.values()];
          if (waiting.length > 0) log.info('NATS is back: re-sending the fetches waiting', { fetches: waiting.length });
          for (const p of waiting) this.send(p, p.sends === 0 ? 'first' : 'reconnect');
        }
      }
    } catch (err) {
      log.warn('NATS status watch of the fetch client ended', { err });
    }
  }

  /** Log a summary of re-sends, at most every LOG_EVERY_MS. */
  private logResends(now: number): void {
    if (now - this.lastLog < LOG_EVERY_MS) return;
    const { silence, reconnect } = this.resent;
    const noResponders = this.resent['no-responders'];
    if (silence + reconnect + noResponders === 0) return;
    this.lastLog = now;
    log.warn('fetch requests re-sent', { afterSilence: silence, noFetcher: noResponders, afterReconnect: reconnect, waiting: this.pending.size });
    this.resent.silence = this.resent.reconnect = this.resent['no-responders'] = 0;
  }

  private startTicker(): void {
    if (this.ticker) return;
    this.lastTick = Date.now();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}

/** NATS's answer when nothing listens on the subject: status 503, no body (not a service's error reply). */
function isNoResponders(msg: Msg): boolean {
  return msg.data.length === 0 && msg.headers?.code === 503 && !msg.headers.has(ServiceErrorCodeHeader);
}

/** The 503 of a fetch that met no chunk-fetcher. */
function noFetcher(p: PendingFetch): StatusError {
  return new BusError(503, `${p.what}: no chunk-fetcher is running: no service is running to answer`);
}
