import { checkReply, decodeJson, encodeJson, headers, requestFailure, subjects, type NatsConnection } from '@larder/bus';
import type { ConfigChange, ConfigChangeResult, ConfigGetReply, ConfigGetRequest, ConfigHistoryReply, ConfigHistoryRequest } from './types.js';

const DEFAULT_TIMEOUT_MS = 2000;

/** The NATS header that carries a caller's token (a `tokens` entry) to the config-service. */
export const TOKEN_HEADER = 'Larder-Token';

async function ask<T>(nc: NatsConnection, subject: string, body: unknown, what: string, timeoutMs: number, token?: string): Promise<T> {
  let reply;
  const h = token ? headers() : undefined;
  h?.set(TOKEN_HEADER, token as string);
  try {
    reply = await nc.request(subject, encodeJson(body), { timeout: timeoutMs, ...(h ? { headers: h } : {}) });
  } catch (err) {
    throw requestFailure(err, what);
  }
  return decodeJson<T>(checkReply(reply).data);
}

/**
 * Ask the config-service of `namespace` for the current config (a short answer when `req` names the current
 * generation). Its secrets are `<redacted>` unless `token` is an admin token for every datastore.
 */
export function requestConfig(nc: NatsConnection, namespace: string, req: ConfigGetRequest = {}, timeoutMs = DEFAULT_TIMEOUT_MS, token?: string): Promise<ConfigGetReply> {
  return ask(nc, subjects(namespace).configGet, req, 'config-service get', timeoutMs, token);
}

/** Ask the config-service to apply a change; a refused change is a BusError (400 invalid, 401/403 token, 409 conflict). With tokens configured it takes an admin `token`. */
export function requestConfigChange(nc: NatsConnection, namespace: string, change: ConfigChange, timeoutMs = DEFAULT_TIMEOUT_MS * 5, token?: string): Promise<ConfigChangeResult> {
  return ask(nc, subjects(namespace).configSet, change, 'config-service set', timeoutMs, token);
}

/** Ask the config-service for the kept versions, or for one of them with its text (secrets redacted as by {@link requestConfig}). */
export function requestConfigHistory(
  nc: NatsConnection,
  namespace: string,
  req: ConfigHistoryRequest = {},
  timeoutMs = DEFAULT_TIMEOUT_MS,
  token?: string,
): Promise<ConfigHistoryReply> {
  return ask(nc, subjects(namespace).configHistory, req, 'config-service history', timeoutMs, token);
}
