import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderMetrics } from './registry.js';

/** A running `/metrics` endpoint. */
export interface MetricsServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** Serve `GET /metrics` on its own HTTP server (services without an HTTP port of their own). */
export async function serveMetrics(host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: only GET /metrics here\n');
      return;
    }
    renderMetrics().then(
      ({ body, contentType }) => res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot serve metrics on ${host}:${port}: ${err.message}`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
