import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@larder/config';
import { makeThrowawayCa, type ThrowawayCa } from '@larder/config/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusConnectError, busOptionsFrom, connectBus } from './connect.js';
import { startOwnNats, type OwnNats } from './own-nats.js';
import { subjects } from './subjects.js';

// nats-servers of this test's own with credentials and TLS (the shared one has neither).
const SECRET = 'nats-secret-5d1e8b';
const TOKEN = 'nats-token-a4c7f2e9';
const dir = mkdtempSync(path.join(tmpdir(), 'larder-nats-creds-'));
const natsConf = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../infra/nats/nats.conf');
let ca: ThrowawayCa;
let withUser: OwnNats;
let withToken: OwnNats;
let withTls: OwnNats;
const opened: NatsConnection[] = [];

beforeAll(async () => {
  ca = makeThrowawayCa(dir);
  withUser = await startOwnNats({ user: 'larder', pass: SECRET });
  withToken = await startOwnNats({ token: TOKEN });
  withTls = await startOwnNats({ user: 'larder', pass: SECRET, tls: { certFile: ca.serverCert, keyFile: ca.serverKey, caFile: ca.caFile, verify: true } });
});

afterAll(async () => {
  for (const nc of opened) await nc.close().catch(() => {});
  for (const s of [withUser, withToken, withTls]) await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(...args: Parameters<typeof connectBus>): Promise<NatsConnection> {
  const nc = await connectBus(...args);
  opened.push(nc);
  return nc;
}

/** A request/reply round trip on `nc`. */
async function roundTrip(nc: NatsConnection): Promise<string> {
  const sub = nc.subscribe('creds.echo', { max: 1 });
  void (async () => {
    for await (const m of sub) m.respond(`re:${m.string()}`);
  })();
  return (await nc.request('creds.echo', 'hi', { timeout: 2000 })).string();
}

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as Error,
  );
}

describe('connectBus with credentials', () => {
  it('connects with user and password, with a token, or with those of the server URL', async () => {
    expect(await roundTrip(await open({ servers: withUser.url, name: 'creds-user', user: 'larder', pass: SECRET }))).toBe('re:hi');
    expect(await roundTrip(await open({ servers: withToken.url, name: 'creds-token', token: TOKEN }))).toBe('re:hi');
    expect(await roundTrip(await open({ servers: withUser.url.replace('//', `//larder:${SECRET}@`), name: 'creds-url' }))).toBe('re:hi');
    expect(await roundTrip(await open({ servers: withToken.url.replace('//', `//${TOKEN}@`), name: 'creds-url-token' }))).toBe('re:hi');
    // The config's section, as every service builds it.
    expect(await roundTrip(await open(busOptionsFrom({ nats: { servers: withUser.url, user: 'larder', pass: SECRET } }, 'creds-config')))).toBe('re:hi');
  });

  it('wrong credentials: a BusConnectError (auth) naming the server and "Authorization Violation", never the secret', async () => {
    const wrong = 'wrong-pass-9e8d';
    const err = await failure(connectBus({ servers: withUser.url.replace('//', `//larder:${wrong}@`), name: 'creds-wrong', timeoutMs: 2000 }));
    expect(err).toBeInstanceOf(BusConnectError);
    expect((err as BusConnectError).reason).toBe('auth');
    expect(err.message).toContain(`NATS at ${withUser.url} refused the connection (Authorization Violation)`);
    expect(err.message).toContain('refused the credentials');
    expect(err.message).not.toContain(wrong);
    const tokenErr = await failure(connectBus({ servers: withToken.url, name: 'creds-wrong-token', token: 'not-the-token', timeoutMs: 2000 }));
    expect((tokenErr as BusConnectError).reason).toBe('auth');
    expect(tokenErr.message).not.toContain('not-the-token');
  });

  it('no credentials: a BusConnectError (auth) that says which settings to give', async () => {
    const err = await failure(connectBus({ servers: withUser.url, name: 'creds-none', timeoutMs: 2000 }));
    expect((err as BusConnectError).reason).toBe('auth');
    expect(err.message).toMatch(/requires credentials: set nats\.user\/nats\.pass or nats\.token \(LARDER_NATS_USER/);
  });

  it('a password without a user is a ConfigError', async () => {
    await expect(connectBus({ servers: withUser.url, name: 'creds-pass-only', pass: SECRET })).rejects.toThrow(ConfigError);
  });
});

describe('connectBus with TLS', () => {
  const tls = () => ({ caFile: ca.caFile, certFile: ca.clientCert, keyFile: ca.clientKey });

  it('connects with the CA and a client certificate', async () => {
    expect(await roundTrip(await open({ servers: withTls.url, name: 'creds-tls', user: 'larder', pass: SECRET, tls: tls() }))).toBe('re:hi');
  });

  it('a server the CA does not vouch for is a BusConnectError (tls)', async () => {
    const err = await failure(
      connectBus({ servers: withTls.url, name: 'creds-tls-noca', user: 'larder', pass: SECRET, tls: { certFile: ca.clientCert, keyFile: ca.clientKey }, timeoutMs: 2000 }),
    );
    expect(err).toBeInstanceOf(BusConnectError);
    expect((err as BusConnectError).reason).toBe('tls');
    expect(err.message).toContain(`TLS with NATS at ${withTls.url} failed`);
  });

  it('a missing PEM file is a ConfigError naming the setting and the file', async () => {
    const missing = path.join(dir, 'client-missing.pem');
    await expect(connectBus({ servers: withTls.url, name: 'creds-tls-missing', tls: { ...tls(), certFile: missing } })).rejects.toThrow(
      `nats.tls: certFile: cannot read ${missing}: file not found`,
    );
  });
});

describe('infra/nats/nats.conf', () => {
  it('lets only the admin identity change the config: the services user may not publish to larder.<ns>.config.set', async () => {
    const env = { LARDER_NATS_PASSWORD: SECRET, LARDER_NATS_ADMIN_PASSWORD: 'admin-secret-3f2a' };
    const nats = await startOwnNats({ configFile: natsConf, env });
    try {
      await expect(connectBus({ servers: nats.url, name: 'conf-anon', timeoutMs: 2000 })).rejects.toThrow(BusConnectError);
      const service = await open({ servers: nats.url, name: 'conf-service', user: 'larder', pass: SECRET });
      const admin = await open({ servers: nats.url, name: 'conf-admin', user: 'admin', pass: env.LARDER_NATS_ADMIN_PASSWORD });
      const set = subjects('credstest').configSet;
      const seen: string[] = [];
      const sub = service.subscribe(set);
      void (async () => {
        for await (const m of sub) {
          seen.push(m.string());
          m.respond('applied');
        }
      })();
      await service.flush();
      // The services user: the request never reaches the config-service.
      await expect(service.request(set, 'from-service', { timeout: 1000 })).rejects.toThrow();
      // The admin: it does, and the reply (to the admin's inbox, published by the services user) comes back.
      expect((await admin.request(set, 'from-admin', { timeout: 2000 })).string()).toBe('applied');
      expect(seen).toEqual(['from-admin']);
      // Everything else works for the services user.
      expect(await roundTrip(service)).toBe('re:hi');
    } finally {
      await nats.stop();
    }
  });
});
