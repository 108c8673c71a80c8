import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { readTlsFiles, splitUrlCredentials, type Config } from '@larder/config';
import { RedisAuthError, redisRefusal, refusalDetail } from './errors.js';
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

/** The connection options of a config's `redis` section: URL, credentials and TLS (one place, so that no caller forgets one). */
export function redisOptionsFrom(config: Pick<Config, 'redis'>): RedisOptions {
  const { url, username, password, tls } = config.redis;
  return { url, username, password, tls };
}

/**
 * Create an ioredis connection that connects at once and fails fast: a command issued before the first
 * connection waits for at most {@link MAX_RETRIES_PER_REQUEST} reconnection attempts; once connected, the
 * offline queue is turned off, so a command issued while the connection is down is rejected at once (and one in
 * flight when it drops after those attempts) instead of hanging, while the client keeps reconnecting in the
 * background with capped backoff. The wrappers turn such failures into `RedisUnavailableError` (503).
 * Credentials: `username`/`password` win over those in the URL. TLS (`tls`, or a `rediss://` URL): the PEM files are
 * read here; throws ConfigError naming the file when one cannot be read.
 * Attach an `error` listener (ioredis prints unhandled connection errors) and `quit()` when done.
 */
export function createRedis(opts: RedisOptions): Redis {
  const connectTimeout = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!Number.isSafeInteger(connectTimeout) || connectTimeout <= 0) {
    throw new TypeError(`createRedis: connectTimeoutMs must be a positive integer, got ${String(opts.connectTimeoutMs)}`);
  }
  // ioredis lets the URL's credentials win over the options: take them out of the URL.
  const fromUrl = splitUrlCredentials(opts.url);
  const username = opts.username ?? fromUrl.username;
  const password = opts.password ?? fromUrl.password;
  let tls: ConnectionOptions | undefined;
  if (opts.tls) {
    tls = { ...readTlsFiles(opts.tls, 'redis.tls') };
    if (opts.tls.servername) tls.servername = opts.tls.servername;
  }
  const redis = new Redis(fromUrl.url, {
    lazyConnect: false,
    connectTimeout,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    retryStrategy: retryDelayMs,
    enableOfflineQueue: true,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls ? { tls } : {}),
  });
  // ioredis reads the option per command: queue only until the first connection is ready.
  redis.once('ready', () => {
    redis.options.enableOfflineQueue = false;
  });
  return redis;
}

/** The server a connection talks to, `host:port` (or the socket path): for messages. Never the credentials. */
export function redisServer(redis: Redis): string {
  const { path, host, port } = redis.options;
  return path ? path : `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

/**
 * Wait for a new connection's first outcome: resolves once it is ready, or once Redis proves unreachable or has not
 * answered within `timeoutMs` (the client keeps reconnecting; commands fail with RedisUnavailableError meanwhile, as
 * before); rejects with {@link RedisAuthError} naming the server when it refuses the credentials or the TLS handshake,
 * so that a service with a wrong password stops at start with a clear message instead of retrying forever.
 */
export async function redisConnected(redis: Redis, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS + 1000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onError = (err: Error) => {
      const reason = redisRefusal(err);
      done(reason ? new RedisAuthError('connect', reason, refusalDetail(reason, err, redisServer(redis))) : undefined);
    };
    const timer = setTimeout(() => done(), timeoutMs);
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}
