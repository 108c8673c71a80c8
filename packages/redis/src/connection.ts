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
 * Create an ioredis connection that connects at once and fails fast: a command issued before the first
 * connection waits for at most {@link MAX_RETRIES_PER_REQUEST} reconnection attempts; once connected, the
 * offline queue is turned off, so a command issued while the connection is down is rejected at once (and one in
 * flight when it drops after those attempts) instead of hanging, while the client keeps reconnecting in the
 * background with capped backoff. The wrappers turn such failures into `RedisUnavailableError` (503).
 * Attach an `error` listener (ioredis prints unhandled connection errors) and `quit()` when done.
 */
export function createRedis(opts: RedisOptions): Redis {
  const connectTimeout = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!Number.isSafeInteger(connectTimeout) || connectTimeout <= 0) {
    throw new TypeError(`createRedis: connectTimeoutMs must be a positive integer, got ${String(opts.connectTimeoutMs)}`);
  }
  const redis = new Redis(opts.url, {
    lazyConnect: false,
    connectTimeout,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    retryStrategy: retryDelayMs,
    enableOfflineQueue: true,
  });
  // ioredis reads the option per command: queue only until the first connection is ready.
  redis.once('ready', () => {
    redis.options.enableOfflineQueue = false;
  });
  return redis;
}
