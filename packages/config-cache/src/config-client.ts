import { checkReply, decodeJson, encodeJson, requestFailure, subjects, type NatsConnection } from '@larder/bus';
import type { ConfigChange, ConfigChangeResult, ConfigGetReply, ConfigGetRequest, ConfigHistoryReply, ConfigHistoryRequest } from './types.js';

const DEFAULT_TIMEOUT_MS = 2000;

async function ask<T>(nc: NatsConnection, subject: string, body: unknown, what: string, timeoutMs: number): Promise<T> {
  let reply;
  try {
    reply = await nc.request(subject, encodeJson(body), { timeout: timeoutMs });
  } catch (err) {
    throw requestFailure(err, what);
  }
  return decodeJson<T>(checkReply(reply).data);
}

/** Ask the config-service of `namespace` for the current config (a short answer when `req` names the current generation). */
export function requestConfig(nc: NatsConnection, namespace: string, req: ConfigGetRequest = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ConfigGetReply> {
  return ask(nc, subjects(namespace).configGet, req, 'config-service get', timeoutMs);
}

/** Ask the config-service to apply a change; a refused change is a BusError (400 invalid, 409 conflict). */
export function requestConfigChange(nc: NatsConnection, namespace: string, change: ConfigChange, timeoutMs = DEFAULT_TIMEOUT_MS * 5): Promise<ConfigChangeResult> {
  return ask(nc, subjects(namespace).configSet, change, 'config-service set', timeoutMs);
}

/** Ask the config-service for the kept versions, or for one of them with its text. */
export function requestConfigHistory(nc: NatsConnection, namespace: string, req: ConfigHistoryRequest = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ConfigHistoryReply> {
  return ask(nc, subjects(namespace).configHistory, req, 'config-service history', timeoutMs);
}
