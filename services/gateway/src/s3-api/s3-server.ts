import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { datastoreForClientBucket, isLoopbackHost, parseListen, type Config } from '@larder/config';
import { createLogger, tracer } from '@larder/telemetry';
import { S3EndpointMetrics } from '@larder/metrics';
import type { ChunkObjects } from './chunk-objects.js';
import { accessKeyOf, authError, authorize, sigV4Authenticator, type Authenticator } from './s3-auth.js';
import { S3ApiError } from './s3-errors.js';
import { parseS3Address } from './s3-request.js';
import { requestId, sendS3Error, toS3Error } from './s3-response.js';
import { bucketOperation, isWrite, objectOperation } from './s3-routes.js';
import { S3EndpointStats } from './s3-stats.js';
import { UpstreamPool } from './upstream.js';
import type { S3UsageCounter } from '../s3-usage.js';
import { listBuckets } from './bucket-ops.js';
import type { BucketContext } from './s3-context.js';

const log = createLogger('gateway.s3');
const tr = tracer('larder.gateway.s3');

/** What the S3 endpoint needs. */
export interface S3ServerDeps {
  /** Read per request: access keys and datastores follow config reloads. */
  config: () => Config;
  /** host:port. */
  listen: string;
  /** Checks signatures; default SigV4 against `accessKeys`. */
  authenticate?: Authenticator;
  /** Chunk keys through the cache; without it they are passed through to S3 like any other key. */
  chunkObjects?: ChunkObjects;
  /** Where the requests sent to the datastores' S3 are counted; none: not counted. */
  usage?: S3UsageCounter;
}

/** A running S3 endpoint. */
export interface S3Server {
  readonly url: string;
  readonly port: number;
  readonly stats: S3EndpointStats;
  stop(): Promise<void>;
}

/** Start the S3-compatible endpoint on its own listener (S3 XML errors, not the Larder routes' JSON). */
export async function startS3Server(deps: S3ServerDeps): Promise<S3Server> {
  const addr = parseListen(deps.listen);
  if (!addr) throw new Error(`gateway.s3Listen is not host:port: ${deps.listen}`);
  // With gateway.allowOpen it listens anyway: without keys it refuses every request.
  if (!isLoopbackHost(addr.host) && deps.config().accessKeys.length === 0 && !deps.config().gateway.allowOpen) {
    throw new Error(
      `gateway.s3Listen ${deps.listen} is not a loopback address and no accessKeys are configured: add an access key, or listen on 127.0.0.1 (or set gateway.allowOpen: true)`,
    );
  }
  const authenticate = deps.authenticate ?? sigV4Authenticator;
  const upstream = new UpstreamPool(deps.usage);
  const stats = new S3EndpointStats();
  const metrics = new S3EndpointMetrics();
  const sockets = new Set<Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const id = requestId();
    res.setHeader('x-amz-request-id', id);
    const method = req.method ?? 'GET';
    const resource = (req.url ?? '/').split('?')[0] ?? '/';
    await tr.startActiveSpan(`s3 ${method}`, { kind: SpanKind.SERVER, attributes: { 'http.method': method } }, async (span) => {
      let operation = 'Unknown';
      const t0 = performance.now();
      try {
        const config = deps.config();
        let verified;
        try {
          // headersDistinct: a header sent twice is signed as S3 joins it (`,`), not as Node does (`, `).
          verified = authenticate({ method, url: req.url ?? '/', headers: req.headersDistinct }, config);
        } catch (err) {
          throw authError(err);
        }
        const accessKey = accessKeyOf(config, verified);
        const address = parseS3Address(req, (b) => datastoreForClientBucket(config, b) !== undefined);
        if (address.bucket === undefined) {
          operation = 'ListBuckets';
          stats.request(operation);
          if (method !== 'GET') throw new S3ApiError('MethodNotAllowed', `${method} is not allowed on the service`);
          return listBuckets(res, config, accessKey);
        }
        const ds = datastoreForClientBucket(config, address.bucket);
        if (!ds) throw new S3ApiError('NoSuchBucket', `no such bucket: ${address.bucket}`);
        authorize(accessKey, address.bucket, isWrite(method));
        const op =
          address.key === undefined
            ? bucketOperation(method, address.query)
            : objectOperation(method, address.query, req.headers['x-amz-copy-source'] !== undefined, deps.chunkObjects);
        operation = op.name;
        stats.request(operation);
        span.setAttribute('s3.operation', operation);
        const ctx: BucketContext & { key?: string } = {
          req,
          res,
          config,
          verified,
          accessKey,
          addr: address,
          bucket: address.bucket,
          ds,
          upstream,
          stats,
          chunkObjects: deps.chunkObjects,
          key: address.key,
        };
        await op.run(ctx);
      } catch (err) {
        const e = toS3Error(err);
        if (operation === 'Unknown') stats.request(operation);
        stats.error(e.code);
        if (e.status >= 500) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
          if (e.code === 'InternalError') log.error('S3 request failed', { operation, resource, err });
        }
        sendS3Error(req, res, e, resource, id);
      } finally {
        metrics.observe(operation, res.statusCode < 400, (performance.now() - t0) / 1000, stats.bytesOut);
        span.setAttribute('http.status_code', res.statusCode);
        span.end();
      }
    });
  };

  const server = http.createServer((req, res) => void handle(req, res));
  server.keepAliveTimeout = 65_000;
  // Large uploads take long: no overall request deadline, but a silent client is dropped.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.setTimeout(5 * 60_000, () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`gateway cannot serve S3 on ${addr.host}:${addr.port}: ${err.message}`, { cause: err })));
    server.listen(addr.port, addr.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${port}`;
  log.info('S3 endpoint listening', { url });
  return {
    url,
    port,
    stats,
    stop: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      setTimeout(() => sockets.forEach((s) => s.destroy()), 2000).unref();
      await closed;
      upstream.destroy();
    },
  };
}
