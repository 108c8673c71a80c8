import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NBD_CMD_READ } from './constants.js';
import { createNbdServer, resolveSettings } from './server.js';
import { createMemoryProvider, demoExports, recordingLogger, sleep, waitFor } from './test-memory-provider.js';
import { RawClient } from './test-raw-client.js';
import type { NbdServer } from './types.js';

const specs = demoExports();
const servers: NbdServer[] = [];
const clients: RawClient[] = [];

async function startServer(): Promise<{ server: NbdServer; port: number; provider: ReturnType<typeof createMemoryProvider> }> {
  const provider = createMemoryProvider(specs);
  const server = createNbdServer({ provider, port: 0, logger: recordingLogger() });
  servers.push(server);
  const { port, host } = await server.listen();
  expect(host).toBe('127.0.0.1');
  return { server, port, provider };
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('createNbdServer', () => {
  it('counts connections and ends them all on close()', async () => {
    const { server, port, provider } = await startServer();
    const negotiating = await client(port);
    await negotiating.readGreeting();
    const attached = await client(port);
    await attached.handshake('demo/disk1');
    await waitFor(() => server.connections === 2, 2000, 'two connections');

    await server.close();
    expect(server.connections).toBe(0);
    expect(await negotiating.expectEof()).toBe(true);
    expect(await attached.expectEof()).toBe(true);
    expect(provider.closed).toEqual(['demo/disk1']);
    // Not listening any more.
    await expect(
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port });
        s.once('connect', () => {
          s.destroy();
          resolve('connected');
        });
        s.once('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });

  it('lets an in-flight read finish before closing on shutdown', async () => {
    const { server, port, provider } = await startServer();
    provider.readHook = (_call, data) => sleep(100).then(() => data);
    const c = await client(port);
    await c.handshake('demo/disk2');
    c.request(NBD_CMD_READ, 1n, 0, 1000);
    await waitFor(() => provider.reads.length === 1, 2000, 'read to start');
    const closing = server.close();
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 1n });
    expect(await c.read(1000)).toEqual(specs[1]!.data.subarray(0, 1000));
    expect(await c.expectEof()).toBe(true);
    await closing;
  });

  it('serves several clients at once', async () => {
    const { server, port } = await startServer();
    const cs = await Promise.all([client(port), client(port), client(port)]);
    await Promise.all(cs.map((c) => c.handshake('demo/disk1')));
    expect(server.connections).toBe(3);
    expect(server.accepted).toBe(3);
    await Promise.all(
      cs.map(async (c, i) => {
        c.request(NBD_CMD_READ, BigInt(i), i * 100, 100);
        expect((await c.readSimpleReply()).error).toBe(0);
        expect(await c.read(100)).toEqual(specs[0]!.data.subarray(i * 100, i * 100 + 100));
      }),
    );
  });

  it('rejects listen() on a port in use', async () => {
    const { port } = await startServer();
    const other = createNbdServer({ provider: createMemoryProvider([]), port, logger: recordingLogger() });
    await expect(other.listen()).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('resolveSettings', () => {
  const provider = createMemoryProvider([]);
  it('fills in defaults', () => {
    const s = resolveSettings({ provider });
    expect(s).toMatchObject({
      maxInflight: 64,
      maxReadLength: 32 * 1024 * 1024,
      preferredBlockSize: 65536,
      handshakeTimeoutMs: 10_000,
    });
  });
  it('validates options', () => {
    expect(() => resolveSettings({ provider, maxInflightPerConnection: 0 })).toThrow(RangeError);
    expect(() => resolveSettings({ provider, maxReadLength: 2 ** 33 })).toThrow(RangeError);
    expect(() => resolveSettings({ provider, preferredBlockSize: 1000 })).toThrow(RangeError);
    expect(() => resolveSettings({ provider, handshakeTimeoutMs: -1 })).toThrow(RangeError);
  });
  it('keeps the preferred block size within the maximum read length', () => {
    expect(resolveSettings({ provider, maxReadLength: 20_000 }).preferredBlockSize).toBe(16384);
  });
});
