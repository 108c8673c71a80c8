// NBD_OPT_STARTTLS at the byte level: FORCEDTLS and optional TLS, with Node's own TLS client and a PSK.
import { randomBytes } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NBD_CMD_READ,
  NBD_FLAG_SEND_DF,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_SERVER,
} from './constants.js';
import { parsePskFile } from './psk-file.js';
import { createNbdServer } from './server.js';
import { resolveTls } from './tls.js';
import { createMemoryProvider, demoExports, recordingLogger, waitFor } from './test-memory-provider.js';
import { RawClient } from './test-raw-client.js';
import type { NbdClient, NbdServer, NbdTlsOptions } from './types.js';

const specs = demoExports();
const aliceKey = randomBytes(32);
const psk = new Map([['alice', aliceKey]]);
const servers: NbdServer[] = [];
const clients: RawClient[] = [];

async function start(
  tls: NbdTlsOptions,
): Promise<{ port: number; seen: NbdClient[]; logger: ReturnType<typeof recordingLogger>; opened: string[]; server: NbdServer; closed: string[] }> {
  const provider = createMemoryProvider(specs);
  const seen: NbdClient[] = [];
  const list = provider.list.bind(provider);
  const open = provider.open.bind(provider);
  provider.list = (who) => (seen.push(who), list(who));
  provider.open = (name, who) => (seen.push(who), open(name, who));
  const logger = recordingLogger();
  const server = createNbdServer({ provider, port: 0, logger, handshakeTimeoutMs: 2000, tls });
  servers.push(server);
  const { port } = await server.listen();
  return { port, seen, logger, opened: provider.opened, server, closed: provider.closed };
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  await c.start();
  return c;
}

/** TLS as the client, with alice's PSK; `tls12` forces TLS 1.2 (a PSK cipher suite) instead of TLS 1.3. */
function pskClient(key = aliceKey, tls12 = false): ConnectionOptions {
  return {
    pskCallback: () => ({ identity: 'alice', psk: key }),
    ...(tls12 ? { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-PSK-CHACHA20-POLY1305:PSK-AES128-GCM-SHA256' } : {}),
    checkServerIdentity: () => undefined,
  };
}

async function upgrade(c: RawClient, options = pskClient()): Promise<void> {
  c.sendOption(NBD_OPT_STARTTLS);
  expect(await c.readOptionReply()).toMatchObject({ option: NBD_OPT_STARTTLS, type: NBD_REP_ACK });
  await c.startTls(options);
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('NBD_OPT_STARTTLS', () => {
  it('with TLS required, answers every option but STARTTLS and ABORT with NBD_REP_ERR_TLS_REQD, and opens nothing', async () => {
    const { port, seen } = await start({ psk });
    const c = await client(port);
    for (const [option, data] of [
      [NBD_OPT_LIST, Buffer.alloc(0)],
      [NBD_OPT_INFO, RawClient.infoRequest('demo/disk1')],
      [NBD_OPT_GO, RawClient.infoRequest('demo/disk1')],
      [NBD_OPT_STRUCTURED_REPLY, Buffer.alloc(0)],
      [42, Buffer.alloc(0)],
    ] as const) {
      c.sendOption(option, data);
      const r = await c.readOptionReply();
      expect(r).toMatchObject({ option, type: NBD_REP_ERR_TLS_REQD });
      expect(r.data.toString()).toBe('TLS is required: send NBD_OPT_STARTTLS first');
    }
    c.sendOption(NBD_OPT_ABORT);
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ACK);
    expect(await c.expectEof()).toBe(true);
    expect(seen).toEqual([]);
  });

  it('with TLS required, ends the session on NBD_OPT_EXPORT_NAME before TLS (it has no error reply)', async () => {
    const { port, opened } = await start({ psk });
    const c = await client(port);
    c.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('demo/disk1'));
    expect(await c.expectEof()).toBe(true);
    expect(opened).toEqual([]);
  });

  it('upgrades to TLS (1.3 and 1.2 PSK), then negotiates over it: LIST, GO and reads; a second STARTTLS is NBD_REP_ERR_INVALID', async () => {
    const { port, seen, logger, server, closed } = await start({ psk });
    for (const tls12 of [false, true]) {
      const c = await client(port);
      c.sendOption(NBD_OPT_STARTTLS, Buffer.from('x'));
      expect((await c.readOptionReply()).type).toBe(NBD_REP_ERR_INVALID);
      await upgrade(c, pskClient(aliceKey, tls12));
      expect((c.socket as import('node:tls').TLSSocket).getProtocol()).toBe(tls12 ? 'TLSv1.2' : 'TLSv1.3');
      c.sendOption(NBD_OPT_STARTTLS);
      expect((await c.readOptionReply()).type).toBe(NBD_REP_ERR_INVALID);
      c.sendOption(NBD_OPT_LIST);
      expect((await c.readOptionReplies()).map((r) => r.type)).toEqual([NBD_REP_SERVER, NBD_REP_SERVER, NBD_REP_ACK]);
      const { size } = await c.handshake('demo/disk2', { structured: false, skipStart: true });
      expect(size).toBe(BigInt(specs[1]!.data.length));
      c.sendRead(7n, 100, 64);
      expect((await c.readSimpleReply()).error).toBe(0);
      expect(await c.read(64)).toEqual(specs[1]!.data.subarray(100, 164));
      c.disconnect();
      expect(await c.expectEof()).toBe(true);
    }
    expect(seen.every((w) => w.tls && w.identity === 'alice')).toBe(true);
    // Both connections ended, their exports closed: nothing of the TLS sockets is left behind.
    await waitFor(() => server.connections === 0, 3000, 'connections to end');
    expect(closed).toEqual(['demo/disk2', 'demo/disk2']);
    expect(logger.lines.filter((l) => l.msg === 'nbd: TLS started').map((l) => (l.meta as { protocol: string }).protocol)).toEqual(['TLSv1.3', 'TLSv1.2']);
  });

  it('ends the session when the TLS handshake fails (wrong key), and keeps serving', async () => {
    const { port, logger, seen } = await start({ psk });
    const c = await client(port);
    c.sendOption(NBD_OPT_STARTTLS);
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ACK);
    await expect(c.startTls(pskClient(randomBytes(32)))).rejects.toThrow();
    await waitFor(() => logger.lines.some((l) => l.level === 'warn' && /TLS handshake failed/.test(l.msg)), 3000, 'handshake failure logged');
    expect(seen).toEqual([]);
    const ok = await client(port);
    await upgrade(ok);
    c.sendOption(NBD_OPT_ABORT);
  });

  it('ends the session when the client sends more before the ACK of NBD_OPT_STARTTLS', async () => {
    const { port, logger } = await start({ psk });
    const c = await client(port);
    c.sendOption(NBD_OPT_STARTTLS);
    c.write(Buffer.from('early bytes'));
    await waitFor(() => logger.lines.some((l) => /data after NBD_OPT_STARTTLS/.test(l.msg)), 3000, 'protocol error logged');
    expect(await c.expectEof()).toBe(true);
  });

  it('with require: false, serves plain clients (no identity) and upgrades those that ask; plain-text state is forgotten', async () => {
    const { port, seen } = await start({ psk, require: false });
    const plain = await client(port);
    const { flags } = await plain.handshake('demo/disk2', { structured: true, skipStart: true });
    expect(flags & NBD_FLAG_SEND_DF).toBe(NBD_FLAG_SEND_DF);
    expect(seen.at(-1)).toEqual({ peer: expect.any(String), tls: false, identity: undefined });
    const c = await client(port);
    c.sendOption(NBD_OPT_STRUCTURED_REPLY);
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ACK);
    await upgrade(c);
    // Structured replies agreed in plain text do not carry over: without asking again, simple replies.
    const after = await c.handshake('demo/disk2', { skipStart: true });
    expect(after.flags & NBD_FLAG_SEND_DF).toBe(0);
    expect(seen.at(-1)).toMatchObject({ tls: true, identity: 'alice' });
    c.request(NBD_CMD_READ, 1n, 0, 8);
    expect((await c.readSimpleReply()).error).toBe(0);
  });
});

describe('NBD over TLS, server side', () => {
  it('closes TLS connections in transmission on server close, and ones that hang in the TLS handshake on the handshake timeout', async () => {
    const { port, server, closed, logger } = await start({ psk });
    const attached = await client(port);
    await upgrade(attached);
    await attached.handshake('demo/disk1', { skipStart: true });
    const silent = await client(port);
    silent.sendOption(NBD_OPT_STARTTLS);
    expect((await silent.readOptionReply()).type).toBe(NBD_REP_ACK);
    // No ClientHello follows: the handshake timeout (2 s here) ends it.
    expect(await silent.expectEof()).toBe(true);
    expect(logger.lines.some((l) => l.msg === 'nbd: handshake timed out')).toBe(true);
    await server.close();
    expect(await attached.expectEof()).toBe(true);
    expect(closed).toEqual(['demo/disk1']);
    expect(server.connections).toBe(0);
  });
});

describe('TLS settings', () => {
  it('parses psktool files and refuses malformed ones without echoing keys', () => {
    const keys = parsePskFile('alice:00ff10\n\nbob:ABCDEF01\r\n');
    expect([...keys.keys()]).toEqual(['alice', 'bob']);
    expect(keys.get('bob')).toEqual(Buffer.from([0xab, 0xcd, 0xef, 0x01]));
    expect(() => parsePskFile('alice:0g11', 'keys.psk')).toThrow('keys.psk, line 1: expected identity:hexkey (as psktool writes it)');
    expect(() => parsePskFile('alice:abc')).toThrow(/line 1/);
    expect(() => parsePskFile(':abcd')).toThrow(/line 1/);
    expect(() => parsePskFile('alice:abcd\nalice:1234')).toThrow("line 2: identity 'alice' appears twice");
    expect(() => parsePskFile('\n')).toThrow('PSK file holds no keys');
    try {
      parsePskFile('x:secretsecret');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });

  it('refuses incomplete TLS options', () => {
    expect(() => resolveTls({})).toThrow(/certificate and key, or PSKs/);
    expect(() => resolveTls({ cert: 'x' })).toThrow(/cert and tls.key go together/);
    expect(() => resolveTls({ psk: new Map() })).toThrow(/holds no keys/);
    expect(() => resolveTls({ psk, ca: 'x' })).toThrow(/needs the server's own cert/);
    expect(resolveTls({ psk }).require).toBe(true);
  });
});
