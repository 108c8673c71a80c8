import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@larder/config';
import { makeThrowawayCa, type ThrowawayCa } from '@larder/config/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkIndex } from './chunk-index.js';
import { createRedis, redisConnected, redisOptionsFrom } from './connection.js';
import { RedisAuthError } from './errors.js';
import { startOwnRedis, type OwnRedis } from './own-redis.js';
import type { RedisOptions } from './types.js';

// Redis servers of this test's own with a password and with TLS (the shared one has neither).
const SECRET = 'redis-secret-7f3a9c';
const dir = mkdtempSync(path.join(tmpdir(), 'larder-redis-creds-'));
let ca: ThrowawayCa;
let withPassword: OwnRedis;
let withTls: OwnRedis;
const opened: Redis[] = [];

beforeAll(async () => {
  ca = makeThrowawayCa(dir);
  withPassword = await startOwnRedis({ password: SECRET });
  withTls = await startOwnRedis({ password: SECRET, tls: { certFile: ca.serverCert, keyFile: ca.serverKey, caFile: ca.caFile } });
});

afterAll(async () => {
  for (const r of opened) r.disconnect();
  await withPassword?.stop();
  await withTls?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function open(opts: RedisOptions): Redis {
  const r = createRedis({ connectTimeoutMs: 1000, ...opts });
  r.on('error', () => {});
  opened.push(r);
  return r;
}

/** The error `p` rejects with. */
async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as Error,
  );
}

describe('createRedis with a password', () => {
  it('connects with the password of the options, of the URL, or of LARDER_REDIS_PASSWORD through the config', async () => {
    await redisConnected(open({ url: withPassword.url, password: SECRET }));
    expect(await open({ url: withPassword.url, password: SECRET }).ping()).toBe('PONG');
    expect(await open({ url: withPassword.url.replace('//', `//default:${SECRET}@`) }).ping()).toBe('PONG');
    // The option wins over a stale password in the URL.
    expect(await open({ url: withPassword.url.replace('//', '//default:stale@'), password: SECRET }).ping()).toBe('PONG');
  });

  it('a wrong password is a RedisAuthError (WRONGPASS) naming the server, never the password', async () => {
    const wrong = 'wrong-password-1b2c';
    const r = open({ url: withPassword.url, password: wrong });
    const err = await failure(redisConnected(r));
    expect(err).toBeInstanceOf(RedisAuthError);
    expect((err as RedisAuthError).reason).toBe('WRONGPASS');
    expect(err.message).toContain(`Redis at 127.0.0.1:${withPassword.port} refused the connection (WRONGPASS`);
    expect(err.message).not.toContain(wrong);
    // A command fails the same way, typed, through the wrappers.
    const cmd = await failure(new ChunkIndex(r, 'creds-test').totals());
    expect(cmd).toBeInstanceOf(RedisAuthError);
    expect(JSON.stringify({ m: cmd.message, c: String((cmd as { cause?: unknown }).cause) })).not.toContain(wrong);
  });

  it('no password is a RedisAuthError (NOAUTH) that says which setting to give', async () => {
    const err = await failure(redisConnected(open({ url: withPassword.url })));
    expect(err).toBeInstanceOf(RedisAuthError);
    expect((err as RedisAuthError).reason).toBe('NOAUTH');
    expect(err.message).toMatch(/refused the connection \(NOAUTH .*LARDER_REDIS_PASSWORD/);
  });

  it('an unreachable Redis is not a refusal: the start goes on and commands fail with 503 as before', async () => {
    await expect(redisConnected(open({ url: 'redis://127.0.0.1:1' }))).resolves.toBeUndefined();
  });
});

describe('createRedis with TLS', () => {
  const tls = () => ({ caFile: ca.caFile, certFile: ca.clientCert, keyFile: ca.clientKey });

  it('connects over TLS with the CA and a client certificate (rediss:// URL, files read at connect)', async () => {
    const r = open({ url: withTls.url, password: SECRET, tls: tls() });
    await redisConnected(r);
    expect(await r.ping()).toBe('PONG');
    // The same through the config's section.
    const cfg = { redis: { url: withTls.url.replace('rediss', 'redis'), password: SECRET, tls: tls() } };
    expect(await open(redisOptionsFrom(cfg)).ping()).toBe('PONG');
  });

  it('a missing PEM file is a ConfigError naming the setting and the file', () => {
    const missing = path.join(dir, 'nope.pem');
    const make = () => createRedis({ url: withTls.url, tls: { ...tls(), caFile: missing } });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(`redis.tls: caFile: cannot read ${missing}: file not found`);
    expect(() => createRedis({ url: withTls.url, tls: { caFile: ca.caFile, certFile: ca.clientCert } })).toThrow(/give certFile and keyFile together/);
  });

  it('a server the CA does not vouch for is a RedisAuthError (TLS)', async () => {
    const err = await failure(redisConnected(open({ url: withTls.url, password: SECRET, tls: { certFile: ca.clientCert, keyFile: ca.clientKey } })));
    expect(err).toBeInstanceOf(RedisAuthError);
    expect((err as RedisAuthError).reason).toBe('TLS');
    expect(err.message).toContain(`Redis at 127.0.0.1:${withTls.port} refused the connection`);
  });
});
