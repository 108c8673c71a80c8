import type { IncomingMessage } from 'node:http';
import { findToken, isLoopbackHost, parseListen, tokenAllows, type Config, type Token } from '@larder/config';
import { StatusError } from '@larder/errors';
import type { Logger } from '@larder/telemetry';
import { decodeSegment, type Route } from './http-kit.js';

/** A request refused for its token: 401 (none, or not a configured one) or 403 (a token without the scope or datastore). */
export class AccessError extends StatusError {
  constructor(status: 401 | 403, message: string) {
    super(status, message);
    this.name = 'AccessError';
  }
}

/** The bearer token of a request, if it carries one. */
function bearerOf(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** What a route needs: its own `access`, else read for GET and HEAD and admin for anything that may change something. */
function accessOf(route: Route, method: string): 'open' | 'read' | 'admin' {
  return route.access ?? (method === 'GET' || method === 'HEAD' ? 'read' : 'admin');
}

/**
 * Check a request's token against the configured tokens before its handler runs (so a refused request changes
 * nothing); returns the token, or undefined when none is needed. No tokens configured: everything is allowed (the
 * gateway then listens on loopback only, see {@link exposureProblem}) — unless `exposed` (it listens on the
 * network, tokens having been configured at start): then it stays closed.
 */
export function authorize(config: Config, req: IncomingMessage, route: Route, params: string[], exposed = false): Token | undefined {
  const access = accessOf(route, req.method ?? 'GET');
  if (access === 'open') return undefined;
  if (config.tokens.length === 0) {
    if (exposed) throw new AccessError(401, 'no tokens are configured any more and the gateway listens on the network: every route that needs a token is closed');
    return undefined;
  }
  const presented = bearerOf(req);
  if (presented === undefined) throw new AccessError(401, 'this route needs a token: send Authorization: Bearer <token>');
  const token = findToken(config.tokens, presented);
  if (!token) throw new AccessError(401, 'unknown token');
  const seg = route.storeParam === undefined ? undefined : params[route.storeParam];
  const datastore = seg === undefined ? undefined : decodeSegment(seg);
  if (!tokenAllows(token, { scope: access, datastore })) {
    const what = token.scope === 'read' && access === 'admin' ? 'an admin token' : `a token for datastore ${datastore}`;
    throw new AccessError(403, `token ${token.name} may not do this: it needs ${what}`);
  }
  return token;
}

/** Why the HTTP listener would be open to the network without protection (undefined: it is not, or `allowOpen`). NBD: see checkNbdExposure. */
export function exposureProblem(config: Config, httpListen: string): string | undefined {
  if (config.gateway.allowOpen) return undefined;
  const http = parseListen(httpListen);
  if (http && !isLoopbackHost(http.host) && config.tokens.length === 0)
    return `gateway.listen ${httpListen} is not a loopback address and no tokens are configured: add tokens (or LARDER_TOKENS)`;
  return undefined;
}

/** Whether the HTTP listener is on the network with `allowOpen` off: then it never serves without a token. */
export function needsTokens(config: Config, http: string): boolean {
  const addr = parseListen(http);
  return !config.gateway.allowOpen && addr !== undefined && !isLoopbackHost(addr.host);
}

/** Refuse to start on a network address without protection (unless `gateway.allowOpen`), and say at start how the HTTP routes are protected. */
export function checkExposure(config: Config, httpListen: string, log: Logger): void {
  const problem = exposureProblem(config, httpListen);
  if (problem) {
    throw new Error(`refusing to start: ${problem}. Listen on 127.0.0.1, or set gateway.allowOpen: true to serve everything to anyone who reaches it`);
  }
  if (config.tokens.length > 0) log.info('HTTP routes need a bearer token', { tokens: config.tokens.length });
  else if (config.gateway.allowOpen) log.warn('no tokens configured and gateway.allowOpen is set: every HTTP route is open to anyone who reaches it', { listen: httpListen });
  else log.warn('no tokens configured: the HTTP routes are open, so the gateway listens on loopback only', { listen: httpListen });
}
