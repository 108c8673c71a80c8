import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  NBD_CMD_READ,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_NO_ZEROES,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FLUSH,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_LIST_META_CONTEXT,
  NBD_OPT_SET_META_CONTEXT,
  NBD_OPT_STARTTLS,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_SHUTDOWN,
  NBD_REP_ERR_TOO_BIG,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_SERVER,
} from './constants.js';
import { StatusError } from '@larder/errors';
import { openErrorReply, parseInfoRequest } from './handshake.js';
import { createNbdServer } from './server.js';
import { createMemoryProvider, demoExports, pseudoRandomBytes, recordingLogger, waitFor, type MemoryProvider } from './test-memory-provider.js';
import { RawClient } from './test-raw-client.js';
import type { NbdServer } from './types.js';

let server: NbdServer;
let port: number;
let provider: MemoryProvider;
let logger: ReturnType<typeof recordingLogger>;
const clients: RawClient[] = [];
const specs = demoExports();

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

/** A fresh client can still complete a handshake and read: the server survived. */
async function expectServerHealthy(): Promise<void> {
  const c = await client();
  const { size } = await c.handshake('demo/disk2');
  expect(size).toBe(100n * 1024n);
  c.request(NBD_CMD_READ, 1n, 0, 16);
  const r = await c.readSimpleReply();
  expect(r.error).toBe(0);
  expect(await c.read(16)).toEqual(specs[1]?.data.subarray(0, 16));
  c.disconnect();
  expect(await c.expectEof()).toBe(true);
}

function text(b: Buffer): string {
  return b.toString('utf8');
}

beforeEach(async () => {
  provider = createMemoryProvider(specs);
  logger = recordingLogger();
  server = createNbdServer({ provider, port: 0, logger, handshakeTimeoutMs: 300 });
  ({ port } = await server.listen());
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server.close();
});

describe('handshake', () => {
  it('greets with fixed newstyle and no-zeroes flags', async () => {
    const c = await client();
    expect(await c.readGreeting()).toBe(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  });

  it('lists exports with NBD_OPT_LIST', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_LIST);
    const replies = await c.readOptionReplies();
    expect(replies.map((r) => r.type)).toEqual([NBD_REP_SERVER, NBD_REP_SERVER, NBD_REP_ACK]);
    const first = replies[0]!.data;
    const nameLength = first.readUInt32BE(0);
    expect(text(first.subarray(4, 4 + nameLength))).toBe('demo/disk1');
    expect(text(first.subarray(4 + nameLength))).toBe('first demo disk');
    expect(replies[1]!.data.subarray(4).toString()).toBe('demo/disk2');
    expect(replies.every((r) => r.option === NBD_OPT_LIST)).toBe(true);
  });

  it('rejects NBD_OPT_LIST with data but keeps negotiating', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_LIST, Buffer.from('x'));
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ERR_INVALID);
    c.sendOption(NBD_OPT_ABORT);
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ACK);
    expect(await c.expectEof()).toBe(true);
  });

  it('answers unsupported options with errors', async () => {
    const c = await client();
    await c.start();
    for (const [option, expected] of [
      [42, NBD_REP_ERR_UNSUP],
      [NBD_OPT_LIST_META_CONTEXT, NBD_REP_ERR_UNSUP],
      [NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_UNSUP],
      [NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY],
    ] as const) {
      c.sendOption(option, option === NBD_OPT_STARTTLS || option === 42 ? Buffer.alloc(0) : Buffer.alloc(8));
      const r = await c.readOptionReply();
      expect(r.option).toBe(option);
      expect(r.type).toBe(expected);
    }
  });

  it('answers NBD_OPT_INFO with export, name, description and block size, then NBD_OPT_GO', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_INFO, RawClient.infoRequest('demo/disk1', [NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE]));
    const replies = await c.readOptionReplies();
    expect(replies.at(-1)?.type).toBe(NBD_REP_ACK);
    const infos = new Map(replies.filter((r) => r.type === NBD_REP_INFO).map((r) => [r.data.readUInt16BE(0), r.data]));
    const exp = infos.get(NBD_INFO_EXPORT)!;
    expect(exp.length).toBe(12);
    expect(exp.readBigUInt64BE(2)).toBe(BigInt(5 * 1024 * 1024 + 1234));
    expect(exp.readUInt16BE(10)).toBe(NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN);
    expect(text(infos.get(NBD_INFO_NAME)!.subarray(2))).toBe('demo/disk1');
    expect(text(infos.get(NBD_INFO_DESCRIPTION)!.subarray(2))).toBe('first demo disk');
    const bs = infos.get(NBD_INFO_BLOCK_SIZE)!;
    expect([bs.readUInt32BE(2), bs.readUInt32BE(6), bs.readUInt32BE(10)]).toEqual([1, 65536, 32 * 1024 * 1024]);

    // Structured replies add NBD_FLAG_SEND_DF; NBD_OPT_GO then enters transmission.
    c.sendOption(8);
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ACK);
    c.sendOption(NBD_OPT_GO, RawClient.infoRequest('demo/disk1'));
    const go = await c.readOptionReplies();
    expect(go.at(-1)?.type).toBe(NBD_REP_ACK);
    expect(go[0]!.data.readUInt16BE(10) & NBD_FLAG_SEND_DF).toBe(NBD_FLAG_SEND_DF);
    c.disconnect();
    expect(await c.expectEof()).toBe(true);
    await waitFor(() => provider.closed.length === 1, 2000, 'export closed');
    expect(provider.opened).toEqual(['demo/disk1']); // NBD_OPT_GO reused the export from NBD_OPT_INFO
  });

  it('reuses the export opened by NBD_OPT_INFO for NBD_OPT_GO of the same name', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_INFO, RawClient.infoRequest('demo/disk2'));
    expect((await c.readOptionReplies()).at(-1)?.type).toBe(NBD_REP_ACK);
    c.sendOption(NBD_OPT_GO, RawClient.infoRequest('demo/disk2'));
    expect((await c.readOptionReplies()).at(-1)?.type).toBe(NBD_REP_ACK);
    expect(provider.opened).toEqual(['demo/disk2']);
    c.disconnect();
    await c.expectEof();
    await waitFor(() => provider.closed.length === 1);
  });

  it('fails NBD_OPT_GO for an unknown export with NBD_REP_ERR_UNKNOWN and a message', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_GO, RawClient.infoRequest('no/such'));
    const [r] = await c.readOptionReplies();
    expect(r?.type).toBe(NBD_REP_ERR_UNKNOWN);
    expect(text(r!.data)).toContain('no/such');
    // The session continues: a correct NBD_OPT_GO still works.
    c.sendOption(NBD_OPT_GO, RawClient.infoRequest('demo/disk2'));
    expect((await c.readOptionReplies()).at(-1)?.type).toBe(NBD_REP_ACK);
  });

  it('answers NBD_OPT_INFO/NBD_OPT_GO with the reply and message that name why the provider could not open an export', async () => {
    const causes: Record<string, StatusError> = {
      'gone/disk': new StatusError(404, 'no such export: no image disk in datastore gone'),
      's3down/disk': new StatusError(503, 'reading index disk of s3down: S3 unavailable: connect ECONNREFUSED'),
      'slow/disk': new StatusError(504, 'reading index disk of slow: S3 did not answer in time'),
      'bad/disk': new StatusError(422, 'image disk in bad has a malformed index: bad magic'),
    };
    const open = provider.open.bind(provider);
    provider.open = (name, who) => (causes[name] ? Promise.reject(causes[name]) : open(name, who));
    const c = await client();
    await c.start();
    for (const [name, err] of Object.entries(causes)) {
      for (const option of [NBD_OPT_INFO, NBD_OPT_GO]) {
        c.sendOption(option, RawClient.infoRequest(name));
        const [r] = await c.readOptionReplies();
        expect(r?.type).toBe(openErrorReply(err));
        expect(text(r!.data)).toBe(`cannot open export '${name}': ${err.message}`);
      }
    }
    expect([404, 503, 504, 422, 400, 500].map((s) => openErrorReply(new StatusError(s, 'x')))).toEqual([
      NBD_REP_ERR_UNKNOWN,
      NBD_REP_ERR_SHUTDOWN,
      NBD_REP_ERR_SHUTDOWN,
      NBD_REP_ERR_INVALID,
      NBD_REP_ERR_UNKNOWN,
      NBD_REP_ERR_UNKNOWN,
    ]);
    // A missing export is logged at info, an unavailable one at warn; the session goes on.
    expect(logger.lines.filter((l) => l.level === 'warn').length).toBe(6);
    c.sendOption(NBD_OPT_GO, RawClient.infoRequest('demo/disk2'));
    expect((await c.readOptionReplies()).at(-1)?.type).toBe(NBD_REP_ACK);
  });

  it('rejects a malformed NBD_OPT_GO with NBD_REP_ERR_INVALID', async () => {
    const c = await client();
    await c.start();
    const bad = RawClient.infoRequest('demo/disk1');
    bad.writeUInt32BE(1000, 0); // name length beyond the data
    c.sendOption(NBD_OPT_GO, bad);
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ERR_INVALID);
  });

  it('supports NBD_OPT_EXPORT_NAME with and without NO_ZEROES', async () => {
    for (const flags of [NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES]) {
      const c = await client();
      await c.start(flags);
      c.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('demo/disk2'));
      const reply = await c.read(flags & NBD_FLAG_C_NO_ZEROES ? 10 : 134);
      expect(reply.readBigUInt64BE(0)).toBe(102400n);
      expect(reply.readUInt16BE(8) & NBD_FLAG_READ_ONLY).toBe(NBD_FLAG_READ_ONLY);
      expect(reply.subarray(10).every((b) => b === 0)).toBe(true);
      c.request(NBD_CMD_READ, 7n, 100, 50);
      const r = await c.readSimpleReply();
      expect(r).toEqual({ error: 0, cookie: 7n });
      expect(await c.read(50)).toEqual(specs[1]!.data.subarray(100, 150));
      c.disconnect();
      expect(await c.expectEof()).toBe(true);
    }
  });

  it('closes the session on NBD_OPT_EXPORT_NAME for an unknown export', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('nope'));
    expect(await c.expectEof()).toBe(true);
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('nope'))).toBe(true);
    await expectServerHealthy();
  });

  it('drops a client that sends a wrong option magic, and keeps serving', async () => {
    const c = await client();
    await c.start();
    c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await c.expectEof()).toBe(true);
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('bad option magic'))).toBe(true);
    await expectServerHealthy();
  });

  it('drops a client that sends garbage instead of client flags', async () => {
    const c = await client();
    await c.readGreeting();
    c.write(Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]));
    expect(await c.expectEof()).toBe(true);
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('client flags'))).toBe(true);
    await expectServerHealthy();
  });

  it('survives random bytes at any point of the handshake', async () => {
    const garbage = pseudoRandomBytes(64 * 1024, 42);
    for (let i = 0; i < 12; i++) {
      const c = await client();
      const stage = i % 3;
      if (stage >= 1) await c.readGreeting();
      if (stage >= 2) c.sendClientFlags();
      const start = (i * 7919) % (garbage.length - 4096);
      c.write(garbage.subarray(start, start + 1 + ((i * 523) % 4096)));
      if (i % 2 === 0) {
        c.destroy();
      } else {
        if (stage === 0) await c.readGreeting();
        expect(await c.expectEof()).toBe(true);
      }
    }
    await waitFor(() => server.connections === 0, 2000, 'all garbage connections to end');
    await expectServerHealthy();
  });

  it('answers an option with a huge length with NBD_REP_ERR_TOO_BIG and ends the session', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_GO, Buffer.alloc(0), 0x7fffffff);
    const r = await c.readOptionReply();
    expect(r.type).toBe(NBD_REP_ERR_TOO_BIG);
    expect(await c.expectEof()).toBe(true);
    await expectServerHealthy();
  });

  it('survives a client hanging up in the middle of an option', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_GO, Buffer.alloc(10), 100);
    await new Promise((r) => setTimeout(r, 20));
    c.destroy();
    await waitFor(() => server.connections === 0, 2000, 'connection to end');
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('mid-message'))).toBe(true);
    await expectServerHealthy();
  });

  it('times out a silent client', async () => {
    const c = await client();
    await c.readGreeting();
    const started = Date.now();
    expect(await c.expectEof()).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(logger.lines.some((l) => l.msg.includes('timed out'))).toBe(true);
    await waitFor(() => server.connections === 0, 2000, 'connection to end');
  });

  it('acknowledges NBD_OPT_ABORT and closes', async () => {
    const c = await client();
    await c.start();
    c.sendOption(NBD_OPT_ABORT);
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ACK);
    expect(await c.expectEof()).toBe(true);
  });
});

describe('parseInfoRequest', () => {
  it('parses name and info list', () => {
    expect(parseInfoRequest(RawClient.infoRequest('a/b', [1, 3]))).toEqual({ name: 'a/b', infos: [1, 3] });
  });
  it('rejects truncated or inconsistent data', () => {
    expect(parseInfoRequest(Buffer.alloc(3))).toBeUndefined();
    const b = RawClient.infoRequest('x', [1]);
    expect(parseInfoRequest(b.subarray(0, b.length - 1))).toBeUndefined();
    expect(parseInfoRequest(Buffer.concat([b, Buffer.alloc(2)]))).toBeUndefined();
    const badUtf8 = RawClient.infoRequest('xx');
    badUtf8[4] = 0xff;
    expect(parseInfoRequest(badUtf8)).toBeUndefined();
  });
});
