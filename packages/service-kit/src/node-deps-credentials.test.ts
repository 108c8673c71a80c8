import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BusConnectError } from '@larder/bus';
import { startOwnNats, type OwnNats } from '@larder/bus/testing';
import { configFromMapping, type Config } from '@larder/config';
import { makeThrowawayCa } from '@larder/config/testing';
import { RedisAuthError } from '@larder/redis';
import { startOwnRedis, type OwnRedis } from '@larder/redis/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { connectNodeDeps } from './node-deps.js';

// A service's connections against a Redis with a password and TLS and a NATS run on infra/nats/nats.conf (users and
// permissions), all of this test's own; the credentials come from the environment as in the compose deployment.
const REDIS_SECRET = 'redis-pw-e2e-41c9d7';
const NATS_SECRET = 'nats-pw-e2e-8b2f6a';
const ADMIN_SECRET = 'nats-admin-e2e-0d5e3c';
const SECRETS = [REDIS_SECRET, NATS_SECRET, ADMIN_SECRET];
const natsConf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../infra/nats/nats.conf');
const dir = mkdtempSync(path.join(tmpdir(), 'larder-deps-creds-'));
const ns = `creds${process.pid}`;
let redis: OwnRedis;
let redisTls: OwnRedis;
let nats: OwnNats;
let tlsFiles: { caFile: string; certFile: string; keyFile: string };

beforeAll(async () => {
  const ca = makeThrowawayCa(dir);
  tlsFiles = { caFile: ca.caFile, certFile: ca.clientCert, keyFile: ca.clientKey };
  redis = await startOwnRedis({ password: REDIS_SECRET });
  redisTls = await startOwnRedis({ password: REDIS_SECRET, tls: { certFile: ca.serverCert, keyFile: ca.serverKey, caFile: ca.caFile } });
  nats = await startOwnNats({ configFile: natsConf, env: { LARDER_NATS_PASSWORD: NATS_SECRET, LARDER_NATS_ADMIN_PASSWORD: ADMIN_SECRET } });
});
afterAll(async () => {
  await redis?.stop();
  await redisTls?.stop();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Everything written to stderr and the console while a test runs (logs at debug level), to look for secrets in.
let captured: string[] = [];
let level: string | undefined;
beforeEach(() => {
  captured = [];
  level = process.env.LARDER_LOG_LEVEL;
  process.env.LARDER_LOG_LEVEL = 'debug';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (captured.push(String(chunk)), true));
  for (const m of ['log', 'warn', 'error', 'info', 'debug'] as const)
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => void captured.push(args.map(String).join(' ')));
});
afterEach(() => {
  vi.restoreAllMocks();
  process.env.LARDER_LOG_LEVEL = level;
  const text = captured.join('\n');
  const leaked = SECRETS.filter((s) => text.includes(s));
  if (leaked.length > 0) throw new Error(`${leaked.length} secret(s) in the logs of the test`);
});

function configWith(env: NodeJS.ProcessEnv, mapping: Record<string, unknown> = {}): Config {
  const base = { namespace: ns, volume: { path: path.join(dir, 'volume') }, redis: { url: redis.url }, nats: { servers: nats.url } };
  return configFromMapping({ ...base, ...mapping }, { source: 'larder.yaml', baseDir: dir, env });
}

const GOOD_ENV = { LARDER_REDIS_PASSWORD: REDIS_SECRET, LARDER_NATS_USER: 'larder', LARDER_NATS_PASSWORD: NATS_SECRET };

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as Error,
  );
}

describe('connectNodeDeps with credentials', () => {
  it('connects with the credentials of the environment; the index and a NATS round trip work, also through an outage', async () => {
    const deps = await connectNodeDeps(configWith(GOOD_ENV), 'creds-test');
    try {
      expect((await deps.index.admit('ds/aa', 100)).admitted).toBe(true);
      expect((await deps.index.totals()).chunkCount).toBe(1);
      const sub = deps.nc.subscribe(`larder.${ns}.echo`, { max: 1 });
      void (async () => {
        for await (const m of sub) m.respond(`re:${m.string()}`);
      })();
      expect((await deps.nc.request(`larder.${ns}.echo`, 'hi', { timeout: 2000 })).string()).toBe('re:hi');
      // An outage logs reconnection errors: none of them carries the password.
      const refused = new Promise((r) => deps.redis.once('error', r));
      await redis.stop();
      await expect(deps.index.totals()).rejects.toThrow();
      await refused;
      await redis.start();
      await vi.waitFor(async () => expect((await deps.index.totals()).chunkCount).toBe(0), { timeout: 10_000, interval: 100 });
      expect(captured.join('\n')).toContain('Redis connection error (reconnecting)');
    } finally {
      await deps.close();
    }
  });

  it('over TLS to Redis with the CA and a client certificate', async () => {
    const deps = await connectNodeDeps(configWith(GOOD_ENV, { redis: { url: redisTls.url, tls: tlsFiles } }), 'creds-tls');
    try {
      expect((await deps.index.admit('ds/bb', 10)).admitted).toBe(true);
    } finally {
      await deps.close();
    }
  });

  it('a wrong Redis password stops the start with a RedisAuthError naming the server', async () => {
    const err = await failure(connectNodeDeps(configWith({ ...GOOD_ENV, LARDER_REDIS_PASSWORD: 'not-it-x' }), 'creds-bad-redis'));
    expect(err).toBeInstanceOf(RedisAuthError);
    expect(err.message).toContain(`Redis at 127.0.0.1:${redis.port} refused the connection (WRONGPASS`);
    expect(err.message).not.toContain('not-it-x');
  });

  it('a wrong or missing NATS password stops the start with a BusConnectError naming the server', async () => {
    const wrong = await failure(connectNodeDeps(configWith({ ...GOOD_ENV, LARDER_NATS_PASSWORD: 'not-it-y' }), 'creds-bad-nats'));
    expect(wrong).toBeInstanceOf(BusConnectError);
    expect(wrong.message).toContain(`NATS at ${nats.url} refused the connection (Authorization Violation)`);
    expect(wrong.message).not.toContain('not-it-y');
    const none = await failure(connectNodeDeps(configWith({ LARDER_REDIS_PASSWORD: REDIS_SECRET }), 'creds-no-nats'));
    expect((none as BusConnectError).reason).toBe('auth');
  });
});
