import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { ResolvedDatastore } from '@larder/config';
import { S3UpstreamMetrics } from '@larder/metrics';
import { acquireS3Slot, objectTarget, parseEndpoint, s3RequestClass, SigV4Signer, UNSIGNED_PAYLOAD, type S3BudgetLease, type S3Endpoint } from '@larder/s3';
import { parseXml, childText, XmlSyntaxError, type XmlElement } from './xml.js';
import { S3ApiError } from './s3-errors.js';
import { s3BodyBytes, s3OperationOf, type S3UsageCounter } from '../s3-usage.js';

/** One request to a datastore's real S3, in the datastore's bucket; `key` is the upstream key (the client's key). */
export interface UpstreamRequest {
  method: string;
  /** Undefined: a bucket request (listing, multi-object delete). */
  key?: string;
  query?: [string, string][];
  /** Lower-case names. */
  headers?: Record<string, string>;
  /** A buffer (signed with its SHA-256), or a stream of exactly `content-length` bytes (sent UNSIGNED-PAYLOAD). */
  body?: Buffer | Readable;
  /** The buffer's SHA-256 (hex) when already known — the client signed it and it was checked — so it is not hashed again. */
  bodySha256?: string;
}

type Connection = Pick<ResolvedDatastore, 'endpoint' | 'region' | 'pathStyle' | 'accessKeyId' | 'secretAccessKey'>;

interface Target {
  ep: S3Endpoint;
  agent: http.Agent;
  signer: SigV4Signer;
}

/** RFC 3986 encoding as SigV4 wants it in a canonical query. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical (sorted, encoded) query string, which is also what is sent. */
export function canonicalQuery(query: [string, string][]): string {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

const CONNECT_TIMEOUT_MS = 3000;
/** How long a request may wait for its datastore's request budget and retry throttle answers before S3's answer is passed on. */
const BUDGET_DEADLINE_MS = 30_000;
const THROTTLE_BACKOFF_MS = 100;
/** A connection that says nothing for this long is given up (a frozen S3). */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * The S3 endpoint's requests to the datastores' real S3, over node:http with the datastore's own credentials (the
 * client never sees them), one keep-alive pool per distinct connection. Bodies stream both ways.
 */
export class UpstreamPool {
  private readonly targets = new Map<string, Target>();
  private readonly metrics = new S3UpstreamMetrics();

  /** `usage`: where each request that S3 answered is counted, by datastore and operation. */
  constructor(private readonly usage?: S3UsageCounter) {}

  private target(conn: Connection): Target {
    const id = JSON.stringify([conn.endpoint, conn.region, conn.pathStyle, conn.accessKeyId, conn.secretAccessKey]);
    let t = this.targets.get(id);
    if (!t) {
      const ep = parseEndpoint(conn.endpoint);
      const agentOpts = { keepAlive: true, maxSockets: 64 };
      t = {
        ep,
        agent: ep.https ? new https.Agent(agentOpts) : new http.Agent(agentOpts),
        signer: new SigV4Signer({ accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey }, conn.region),
      };
      this.targets.set(id, t);
    }
    return t;
  }

  /**
   * Send a request; resolves with the response (any status: the caller decides) once its headers arrive. A request
   * without a stream body is tried once more on a connection failure (s3rver drops keep-alive connections now and
   * then); otherwise a failure to reach S3 is ServiceUnavailable. Each attempt waits for a slot of the datastore's
   * request budget (its concurrency slot is held until the response is consumed); a throttle answer to a request
   * without a stream body is retried through the budget, with backoff, for up to 30 s, and then passed on.
   */
  async request(ds: ResolvedDatastore, r: UpstreamRequest): Promise<IncomingMessage> {
    const retriable = r.body === undefined || Buffer.isBuffer(r.body);
    const t0 = performance.now();
    const deadline = AbortSignal.timeout(BUDGET_DEADLINE_MS);
    const cls = s3RequestClass(r.method, r.key !== undefined);
    let throttles = 0;
    for (let attempt = 0; ; attempt++) {
      let lease: S3BudgetLease | undefined;
      try {
        lease = await acquireS3Slot(ds, cls, deadline);
        const res = await this.once(ds, r);
        const throttled = lease?.answered(res.statusCode) ?? false;
        if (throttled && retriable && !deadline.aborted) {
          res.resume();
          lease?.release();
          const wait = Math.min(2000, THROTTLE_BACKOFF_MS * 2 ** throttles++) * (0.5 + Math.random() / 2);
          await new Promise((resolve) => setTimeout(resolve, wait));
          attempt--;
          continue;
        }
        if (lease) res.once('close', () => lease?.release());
        this.metrics.observe(r.method, res.statusCode, (performance.now() - t0) / 1000);
        return res;
      } catch (err) {
        lease?.answered(undefined);
        lease?.release();
        if (!lease && ds.budget !== undefined && deadline.aborted) {
          this.metrics.observe(r.method, undefined, (performance.now() - t0) / 1000);
          throw new S3ApiError('SlowDown', `no slot of S3 request budget ${ds.budget} within ${BUDGET_DEADLINE_MS / 1000} s`, 503, { cause: err });
        }
        if (!retriable || attempt >= 1 || err instanceof S3ApiError) {
          this.metrics.observe(r.method, undefined, (performance.now() - t0) / 1000);
          throw err instanceof S3ApiError ? err : new S3ApiError('ServiceUnavailable', `S3 unavailable: ${(err as Error).message}`, 503, { cause: err });
        }
      }
    }
  }

  private once(ds: ResolvedDatastore, r: UpstreamRequest): Promise<IncomingMessage> {
    const t = this.target(ds);
    const { host, path } = objectTarget(t.ep, ds.bucket, r.key, ds.pathStyle);
    const query = canonicalQuery(r.query ?? []);
    const headers: Record<string, string> = { ...r.headers };
    let payloadHash = UNSIGNED_PAYLOAD;
    if (Buffer.isBuffer(r.body)) {
      payloadHash = r.bodySha256 ?? createHash('sha256').update(r.body).digest('hex');
      headers['content-length'] = String(r.body.length);
    } else if (r.body === undefined && (r.method === 'PUT' || r.method === 'POST')) {
      headers['content-length'] = '0';
    }
    const signed = t.signer.sign({ method: r.method, host, path, query, headers, payloadHash });
    const operation = s3OperationOf(r.method, r.key !== undefined);
    const sent = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = t.ep.https ? https.request : http.request;
      const answered = (res: IncomingMessage) => {
        // Answered, so billed (whatever the status); a request that never reached S3 is not counted.
        this.usage?.add(ds.name, operation, s3BodyBytes(operation, sent, res));
        resolve(res);
      };
      const req = request({ agent: t.agent, hostname: t.ep.hostname, port: t.ep.port, method: r.method, path: query ? `${path}?${query}` : path, headers: signed }, answered);
      req.on('error', reject);
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${IDLE_TIMEOUT_MS / 1000} s`)));
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => req.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
        timer.unref();
        const clear = () => clearTimeout(timer);
        socket.once('connect', clear).once('close', clear);
      });
      if (r.body === undefined) req.end();
      else if (Buffer.isBuffer(r.body)) req.end(r.body);
      else {
        const body = r.body;
        // A body that fails (verification, the client went away) must not let S3 complete the object: the request dies with it.
        body.once('error', (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }

  /** Close every pooled connection. */
  destroy(): void {
    for (const t of this.targets.values()) t.agent.destroy();
    this.targets.clear();
  }
}

/** Read a (small) response body whole, at most `limit` bytes (more: an error). */
export async function readResponse(res: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.destroy();
      throw new S3ApiError('InternalError', `S3 answered with more than ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** The error of a non-2xx upstream answer, with S3's own code and status (a HEAD has no body: the code follows from the status). */
export async function upstreamError(res: IncomingMessage, notFound: 'NoSuchKey' | 'NoSuchBucket' | 'NoSuchUpload' = 'NoSuchKey'): Promise<S3ApiError> {
  const status = res.statusCode ?? 502;
  let code: string | undefined;
  let message: string | undefined;
  try {
    const body = await readResponse(res, 64 * 1024);
    if (body.length > 0) {
      const doc = parseXml(body.toString('utf8'));
      code = childText(doc, 'Code');
      message = childText(doc, 'Message');
    }
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) res.destroy();
  }
  code ??=
    { 400: 'InvalidRequest', 403: 'AccessDenied', 404: notFound, 405: 'MethodNotAllowed', 412: 'PreconditionFailed', 416: 'InvalidRange', 503: 'SlowDown' }[status] ??
    (status >= 500 ? 'ServiceUnavailable' : 'InvalidRequest');
  return new S3ApiError(code, message ?? `S3 answered ${status}`, status);
}

/**
 * The XML document of an upstream answer that must be 200 (else its error, `notFound` for a 404), parsed; an `<Error>`
 * sent with 200 (S3 does, for a failed multi-object delete or copy) and a malformed document (`what` names it) are thrown.
 */
export async function upstreamXml(res: IncomingMessage, notFound: 'NoSuchKey' | 'NoSuchBucket' | 'NoSuchUpload', what: string): Promise<XmlElement> {
  if ((res.statusCode ?? 0) !== 200) throw await upstreamError(res, notFound);
  let doc: XmlElement;
  try {
    doc = parseXml((await readResponse(res, 16 * 1024 * 1024)).toString('utf8'));
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) throw err;
    throw new S3ApiError('InternalError', `S3 answered ${what} with malformed XML`, 502, { cause: err });
  }
  if (doc.name === 'Error') throw new S3ApiError(childText(doc, 'Code') ?? 'InternalError', childText(doc, 'Message') ?? 'S3 failed', 500);
  return doc;
}
