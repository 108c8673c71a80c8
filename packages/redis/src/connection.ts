import { Redis } from 'ioredis';
import type { RedisOptions } from './types.js';

/** Default TCP connect timeout per attempt, in ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** Reconnection attempts a queued command waits for before it is rejected. */
export const MAX_RETRIES_PER_REQUEST = 2;
const RETRY_BASE_MS = 50;
const RETRY_CAP_MS = 500;

/** Reconnect delay for attempt `times` (1-based): exponential from 50 ms, capped at 500 ms; never gives up. */
export function retryDelayMs(times: number): number {
  return Math.min(RETRY_BASE_MS * 2 ** Math.max(0, times - 1), RETRY_CAP_MS);
}

/**
 * Create an ioredis connection that connects at once and fails fast: while Redis is unreachable a
 * command is rejected after {@link MAX_RETRIES_PER_REQUEST} reconnection attempts instead of
 * hanging, while the client keeps reconnecting in the background with capped backoff.
 * Attach an `error` listener (ioredis prints unhandled connection errors) and `quit()` when done.
 */
export function createRedis(opts: RedisOptions): Redis {
  const connectTimeout = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!Number.isSafeInteger(connectTimeout) || connectTimeout <= 0) {
    throw new TypeError(`createRedis: connectTimeoutMs must be a positive integer, got ${String(opts.connectTimeoutMs)}`);
  }
  return new Redis(opts.url, {
    lazyConnect: false,
    connectTimeout,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    retryStrategy: retryDelayMs,
    enableOfflineQueue: true,
  });
}
