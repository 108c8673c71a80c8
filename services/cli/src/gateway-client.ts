import { parseDuration, readEnvironment, type Config } from '@larder/config';
import { StatusError, reasonOf } from '@larder/errors';
import { CliError, usage } from './cli-error.js';

/** The gateway's base URL: LARDER_GATEWAY_URL, else http://<gateway.listen>. */
export function gatewayUrl(config: Config): string {
  return (readEnvironment().gatewayUrl ?? `http://${config.gateway.listen}`).replace(/\/$/, '');
}

/**
 * GET a gateway path; a refused connection or an error answer becomes a CliError with the gateway's message (its
 * cause: the network error, or a StatusError with the answer's status).
 */
export async function gatewayGet(config: Config, path: string, init?: RequestInit): Promise<Response> {
  const url = `${gatewayUrl(config)}${path}`;
  const token = readEnvironment().token;
  let res: Response;
  try {
    res = await fetch(url, token ? { ...init, headers: { ...(init?.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } } : init);
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') throw new CliError(`the gateway at ${gatewayUrl(config)} did not answer ${path}: ${networkMessage(err)}`, 1, { cause: err });
    throw new CliError(`cannot reach the gateway at ${gatewayUrl(config)} (is 'pnpm start' running?): ${networkMessage(err)}`, 1, { cause: err });
  }
  if (!res.ok && res.status !== 206) {
    const text = await res.text();
    let message = text || reasonOf(res.status); // a HEAD answer has no body
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: keep the text
    }
    const hint = accessHint(res.status, token !== undefined);
    throw new CliError(`${res.status} ${message.trim()}${hint}`, 1, { cause: new StatusError(res.status, message.trim()) });
  }
  return res;
}

/** What to do about a refused token: the gateway's tokens are sent from LARDER_TOKEN. */
export function accessHint(status: number, hasToken: boolean): string {
  if (status === 401) return hasToken ? ' (the gateway does not know the token in LARDER_TOKEN)' : ' (the gateway needs a token: set LARDER_TOKEN)';
  if (status === 403) return ' (the token in LARDER_TOKEN does not allow this: it needs another scope or datastore)';
  return '';
}

/** An error's message with the first system error code under it: `fetch failed (ECONNREFUSED)`, `terminated (UND_ERR_SOCKET)`. */
export function networkMessage(err: unknown): string {
  let code: string | undefined;
  for (let e = err, depth = 0; e instanceof Error && !code && depth < 8; e = e.cause, depth++) {
    code = (e as { code?: string }).code ?? (e instanceof AggregateError ? (e.errors[0] as { code?: string } | undefined)?.code : undefined);
  }
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** Network failures worth another try: the gateway restarting (refused, reset), a dropped connection, a timeout. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Whether a failed gateway request may succeed if tried again: 502, 503, 504, a connection refused or reset, a timeout. Never a 4xx. */
export function isTransient(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof StatusError) return e.status === 502 || e.status === 503 || e.status === 504;
    if (e.name === 'TimeoutError' || TRANSIENT_CODES.has((e as { code?: string }).code ?? '')) return true;
    if (e instanceof AggregateError && e.errors.some(isTransient)) return true;
  }
  return false;
}

/** A timeout error (transient) for an attempt that got no bytes for `ms`. */
export function stalled(what: string, ms: number): Error {
  return Object.assign(new Error(`${what}: nothing from the gateway for ${ms / 1000} s`), { name: 'TimeoutError' });
}

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;
/** How often retry lines are printed at most while the failure stays the same. */
const REPORT_EVERY_MS = 5000;

/**
 * Retries of transient gateway failures ({@link isTransient}) for one command: each request is tried again with
 * backoff (250 ms doubling to 5 s, with jitter) until it succeeds or has kept failing for `forMs` since its first
 * failure. Other failures (4xx, a bad answer) are thrown at once. Retries are reported on `report` (at most one
 * line per 5 s while the failure stays the same) and counted.
 */
export class GatewayRetry {
  /** Retries made so far, and how many requests needed one. */
  retries = 0;
  retriedRequests = 0;
  private lastReport = { at: 0, reason: '' };

  constructor(
    readonly forMs: number,
    private readonly report: (line: string) => void = () => {},
  ) {}

  /** Run `attempt` until it succeeds, retrying transient failures within the budget. */
  async run<T>(attempt: () => Promise<T>): Promise<T> {
    let firstFailure: number | undefined;
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (!isTransient(err)) throw err;
        const now = Date.now();
        firstFailure ??= now;
        const left = firstFailure + this.forMs - now;
        const reason = (err as Error).message;
        if (left <= 0) {
          const tried = this.forMs > 0 ? ` (gave up after retrying for ${seconds(now - firstFailure)}; --retry-for sets how long)` : '';
          throw new CliError(`${reason}${tried}`, 1, { cause: err });
        }
        const wait = Math.min(left, Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** n) * (0.5 + Math.random() / 2));
        if (n === 0) this.retriedRequests++;
        this.retries++;
        if (reason !== this.lastReport.reason || now - this.lastReport.at >= REPORT_EVERY_MS) {
          this.lastReport = { at: now, reason };
          this.report(`${reason}; retrying (${this.retries} ${this.retries === 1 ? 'retry' : 'retries'} so far, giving up on a request after ${seconds(this.forMs)} of failures)`);
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** `, 3 requests retried (7 retries)` for a summary line, or nothing. */
  summary(): string {
    return this.retries === 0
      ? ''
      : `, ${this.retriedRequests} ${this.retriedRequests === 1 ? 'request' : 'requests'} retried (${this.retries} ${this.retries === 1 ? 'retry' : 'retries'})`;
  }
}

/** `--retry-for` when not given. */
export const DEFAULT_RETRY_FOR = '2m';

/** A {@link GatewayRetry} for the `--retry-for DURATION` option, reporting on `err` as `label: ...`. */
export function retryOption(value: string | undefined, label: string, err: NodeJS.WritableStream & { isTTY?: boolean }): GatewayRetry {
  const ms = parseDuration(value ?? DEFAULT_RETRY_FOR);
  if (ms === undefined) throw usage(`bad --retry-for ${JSON.stringify(value)}: expected a duration such as 120s or 2m (0: no retries)`);
  // On a terminal the line replaces the progress bar, which the next update draws again below it.
  return new GatewayRetry(ms, (line) => err.write(`${err.isTTY ? '\r\x1b[K' : ''}${label}: ${line}\n`));
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
