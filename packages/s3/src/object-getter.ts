import http from 'node:http';
import https from 'node:https';
import type { ResolvedDatastore } from '@larder/config';
import { budgeted } from './budget.js';
import { S3Error } from './errors.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';
import { objectTarget, parseEndpoint, SigV4Signer, type S3Endpoint } from './sigv4.js';

type Connection = Pick<ResolvedDatastore, 'endpoint' | 'region' | 'pathStyle' | 'accessKeyId' | 'secretAccessKey'> & { budget?: string };

/** Options of {@link objectGetterFor}: the keep-alive pool size (64) and the connect timeout (3 s), as s3ClientFor. */
export interface ObjectGetterOptions {
  maxSockets?: number;
  connectTimeoutMs?: number;
  /** `false`: a new connection for every request, closed after it (a retry that must not reuse a connection). Default true. */
  keepAlive?: boolean;
}

/** Whole-object GETs over plain node:http with our own SigV4 signing: getObjectBytes without the SDK's per-request cost. */
export interface ObjectGetter {
  /**
   * Read a whole object into memory, retrying transient failures within the policy's deadline (as getObjectBytes).
   * `alloc` supplies the buffer for a body of known length (a pool, say); a failed attempt's buffer is dropped.
   */
  get(bucket: string, key: string, policy?: RetryPolicy, onRetry?: (attempt: number, err: unknown) => void, alloc?: (length: number) => Buffer): Promise<Buffer>;
}

const getters = new Map<string, { getter: ObjectGetter; agent: http.Agent }>();

/** An object getter for a datastore's connection; one getter (and keep-alive pool) per distinct connection and request budget. */
export function objectGetterFor(conn: Connection, opts: ObjectGetterOptions = {}): ObjectGetter {
  const id = JSON.stringify([
    conn.endpoint,
    conn.region,
    conn.pathStyle,
    conn.accessKeyId,
    conn.secretAccessKey,
    opts.maxSockets,
    opts.connectTimeoutMs,
    opts.keepAlive ?? true,
    conn.budget,
  ]);
  let entry = getters.get(id);
  if (!entry) {
    const ep = parseEndpoint(conn.endpoint);
    const agentOpts = { keepAlive: opts.keepAlive ?? true, maxSockets: opts.maxSockets ?? 64 };
    const agent = ep.https ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    const signer = new SigV4Signer({ accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey }, conn.region);
    const connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    const getter: ObjectGetter = {
      get(bucket, key, policy = DEFAULT_RETRY, onRetry, alloc = Buffer.allocUnsafe) {
        let target: { host: string; path: string };
        try {
          target = objectTarget(ep, bucket, key, conn.pathStyle);
        } catch (err) {
          return Promise.reject(new S3Error('failed', key, `S3 request failed: ${key} (${(err as Error).message})`, { cause: err }));
        }
        const budget = { budget: conn.budget };
        // Signed after the budget's wait: the signature's time is the request's.
        return withRetry(
          key,
          policy,
          (signal) => budgeted(budget, 'get', () => getOnce(ep, agent, signer.sign({ method: 'GET', ...target }), target.path, signal, connectTimeoutMs, alloc)),
          onRetry,
        );
      },
    };
    entry = { getter, agent };
    getters.set(id, entry);
  }
  return entry.getter;
}

/** Destroy every cached getter's connections (tests and shutdown). */
export function destroyObjectGetters(): void {
  for (const e of getters.values()) e.agent.destroy();
  getters.clear();
}

/** One GET: the body sized by Content-Length, or an error shaped like the SDK's (`name` from `<Code>`, `$metadata.httpStatusCode`). */
function getOnce(
  ep: S3Endpoint,
  agent: http.Agent,
  headers: Record<string, string>,
  path: string,
  signal: AbortSignal,
  connectTimeoutMs: number,
  alloc: (length: number) => Buffer,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const request = ep.https ? https.request : http.request;
    const req = request({ agent, hostname: ep.hostname, port: ep.port, path, method: 'GET', headers, signal }, (res) => {
      const status = res.statusCode ?? 0;
      const declared = Number(res.headers['content-length'] ?? NaN);
      const length = Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
      if (status < 200 || status > 299) return readAll(res, undefined, (_err, body) => reject(httpError(status, body)));
      let out: Buffer | undefined;
      try {
        out = length === undefined ? undefined : alloc(length);
      } catch (err) {
        res.destroy();
        return reject(err);
      }
      readAll(res, out, (err, body) => (err ? reject(err) : resolve(body)));
    });
    req.on('error', reject);
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no connection within ${connectTimeoutMs} ms`), { name: 'TimeoutError' })), connectTimeoutMs);
      timer.unref();
      const clear = () => clearTimeout(timer);
      socket.once('connect', clear).once('close', clear);
    });
    req.end();
  });
}

/** Gather a response body: into `out`, sized by Content-Length, when given (error if longer or shorter), else concatenated. */
function readAll(res: http.IncomingMessage, out: Buffer | undefined, done: (err: Error | undefined, body: Buffer) => void): void {
  const parts: Buffer[] = [];
  let at = 0;
  let settled = false;
  const finish = (err: Error | undefined) => {
    if (settled) return;
    settled = true;
    done(err, out ? out : Buffer.concat(parts));
  };
  res.on('data', (chunk: Buffer) => {
    if (!out) return void parts.push(chunk);
    if (at + chunk.length > out.length) {
      finish(new Error(`object body longer than its Content-Length ${out.length}`));
      return void res.destroy();
    }
    chunk.copy(out, at);
    at += chunk.length;
  });
  res.on('end', () => finish(out && at !== out.length ? new Error(`object body ended after ${at} of ${out.length} bytes`) : undefined));
  res.on('error', (err) => finish(err));
  res.on('close', () => finish(new Error(`connection closed after ${at} bytes of the body`)));
}

/** The error of a non-2xx answer, named by the S3 error code as the SDK names it. */
function httpError(status: number, body: Buffer): Error {
  const xml = body.toString('utf8', 0, Math.min(body.length, 8192));
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1] ?? (status === 404 ? 'NotFound' : `Http${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1] ?? `HTTP ${status}`;
  return Object.assign(new Error(message), { name: code, $metadata: { httpStatusCode: status } });
}
