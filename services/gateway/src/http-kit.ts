import type { IncomingMessage, ServerResponse } from 'node:http';
import { StatusError, reasonOf, statusOf } from '@larder/errors';

/** A request handler with the path parameters its route captured. */
export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void> | void;

/** A route: methods, a path pattern whose groups become params, and a handler. */
export interface Route {
  methods: string[];
  pattern: RegExp;
  handler: Handler;
  /** The token it needs when tokens are configured (default: read for GET and HEAD, admin otherwise); `open`: none. */
  access?: 'open' | 'read' | 'admin';
  /** The index of the param that names the datastore it touches, for tokens scoped to datastores. */
  storeParam?: number;
}

/** Send a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answer a failure as `{ "error": reason, "message": text }` with its status (`statusOf`), unless the response has started (then end it). */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = statusOf(err);
  sendJson(res, status, { error: reasonOf(status), message: (err as Error)?.message ?? String(err) }, status === 401 ? { 'www-authenticate': 'Bearer realm="larder"' } : {});
}

/** Find the route for a request: its handler and params, or an error status (404, 405). */
export function matchRoute(routes: Route[], method: string, path: string): { route: Route; handler: Handler; params: string[] } | { status: number } {
  let methodMismatch = false;
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    if (!r.methods.includes(method)) {
      methodMismatch = true;
      continue;
    }
    return { route: r, handler: r.handler, params: m.slice(1).map((p) => p ?? '') };
  }
  return { status: methodMismatch ? 405 : 404 };
}

/** Decode one percent-encoded path segment; a bad encoding is a 400. */
export function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch (err) {
    throw new StatusError(400, `malformed percent-encoding in path: ${s}`, { cause: err });
  }
}
