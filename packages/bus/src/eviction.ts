import type { NatsConnection } from '@nats-io/transport-node';
import { encodeJson } from './codec.js';
import { checkReply, requestFailure } from './service-errors.js';
import { subjects, type EvictRequest } from './subjects.js';

/** Ask the cache-index to evict now (room for `req`), and wait for its answer; fails with a StatusError (no answer, no cache-index). */
export async function requestEviction(nc: NatsConnection, namespace: string, req: EvictRequest, timeoutMs = 5000): Promise<void> {
  try {
    checkReply(await nc.request(subjects(namespace).indexEvict, encodeJson(req), { timeout: timeoutMs }));
  } catch (err) {
    throw requestFailure(err, 'eviction request');
  }
}
