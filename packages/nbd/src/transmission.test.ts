import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_CACHE,
  NBD_CMD_FLAG_DF,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_ERR,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
} from './constants.js';
import { createNbdServer } from './server.js';
import { createMemoryProvider, demoExports, recordingLogger, sleep, waitFor, type MemoryProvider } from './test-memory-provider.js';
import { RawClient } from './test-raw-client.js';
import type { NbdServer, NbdServerOptions } from './types.js';

const specs = demoExports();
const disk1 = specs[0]!.data;
const SIZE1 = disk1.length;

let server: NbdServer;
let port: number;
let provider: MemoryProvider;
let logger: ReturnType<typeof recordingLogger>;
const clients: RawClient[] = [];

async function start(extra: Partial<NbdServerOptions> = {}): Promise<void> {
  provider = createMemoryProvider(specs);
  logger = recordingLogger();
  server = createNbdServer({ provider, port: 0, logger, ...extra });
  ({ port } = await server.listen());
}

async function attach(opts: { structured?: boolean } = {}, name = 'demo/disk1'): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  await c.handshake(name, opts);
  return c;
}

/** A promise with its resolve/reject exposed. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Read a simple reply to a read request, with its data when successful. */
async function readSimpleRead(c: RawClient, lengthByCookie: Map<bigint, number>): Promise<{ cookie: bigint; error: number; data?: Buffer }> {
  const r = await c.readSimpleReply();
  if (r.error !== 0) return r;
  const len = lengthByCookie.get(r.cookie);
  if (len === undefined) throw new Error(`unexpected cookie ${r.cookie}`);
  return { ...r, data: await c.read(len) };
}

beforeEach(async () => {
  await start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server.close();
});

describe('transmission with simple replies', () => {
  it('reads data at arbitrary offsets, including the unaligned tail', async () => {
    const c = await attach();
    const cases: [number, number][] = [
      [0, 512],
      [12345, 4096],
      [SIZE1 - 1234, 1234],
      [SIZE1 - 1, 1],
      [0, 2 * 1024 * 1024],
    ];
    for (const [i, [offset, length]] of cases.entries()) {
      c.request(NBD_CMD_READ, BigInt(i), offset, length);
      const r = await c.readSimpleReply();
      expect(r).toEqual({ error: 0, cookie: BigInt(i) });
      expect((await c.read(length)).equals(disk1.subarray(offset, offset + length))).toBe(true);
    }
  });

  it('answers concurrent reads out of order as they complete', async () => {
    const gates = new Map<number, ReturnType<typeof deferred<void>>>();
    provider.readHook = (call, data) => {
      const gate = deferred<void>();
      gates.set(call.offset, gate);
      return gate.promise.then(() => data);
    };
    const c = await attach();
    const lengths = new Map<bigint, number>();
    for (let i = 0; i < 4; i++) {
      c.request(NBD_CMD_READ, BigInt(100 + i), i * 4096, 4096);
      lengths.set(BigInt(100 + i), 4096);
    }
    await waitFor(() => gates.size === 4, 2000, 'all reads to start');
    for (const offset of [3 * 4096, 1 * 4096, 0, 2 * 4096]) gates.get(offset)!.resolve();
    const order: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await readSimpleRead(c, lengths);
      const off = Number(r.cookie - 100n) * 4096;
      expect(r.data!.equals(disk1.subarray(off, off + 4096))).toBe(true);
      order.push(r.cookie);
    }
    expect(order).toEqual([103n, 101n, 100n, 102n]);
  });

  it('fails reads past the end or with overflowing ranges with EINVAL and stays usable', async () => {
    const c = await attach();
    const bad: [bigint, number][] = [
      [BigInt(SIZE1 - 10), 20],
      [BigInt(SIZE1), 1],
      [0xffffffffffffffffn, 10],
      [0xfffffffffffffe00n, 0x1000],
      [0n, 32 * 1024 * 1024 + 1], // above maxReadLength
    ];
    for (const [i, [offset, length]] of bad.entries()) {
      c.request(NBD_CMD_READ, BigInt(i), offset, length);
      expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EINVAL, cookie: BigInt(i) });
    }
    c.request(NBD_CMD_READ, 99n, 0, 16);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 99n });
    expect(await c.read(16)).toEqual(disk1.subarray(0, 16));
  });

  it('refuses writes with EPERM after consuming the payload', async () => {
    const c = await attach();
    const payload = Buffer.alloc(70_000, 0xab);
    c.request(NBD_CMD_WRITE, 1n, 0, payload.length, 0, payload);
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EPERM, cookie: 1n });
    c.request(NBD_CMD_TRIM, 2n, 0, 4096);
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EPERM, cookie: 2n });
    c.request(NBD_CMD_WRITE_ZEROES, 3n, 0, 4096);
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EPERM, cookie: 3n });
    // The stream is still in sync: a read right after works.
    c.request(NBD_CMD_READ, 4n, 8, 8);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 4n });
    expect(await c.read(8)).toEqual(disk1.subarray(8, 16));
    expect(provider.reads).toHaveLength(1);
  });

  it('handles flush, cache, block status, unknown commands and zero-length reads', async () => {
    const c = await attach();
    c.request(NBD_CMD_FLUSH, 1n, 0, 0);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 1n });
    c.request(NBD_CMD_CACHE, 2n, 0, 65536);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 2n });
    c.request(NBD_CMD_CACHE, 3n, SIZE1, 65536);
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EINVAL, cookie: 3n });
    c.request(NBD_CMD_BLOCK_STATUS, 4n, 0, 65536);
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EINVAL, cookie: 4n });
    c.request(77, 5n, 0, 0);
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EINVAL, cookie: 5n });
    c.request(NBD_CMD_READ, 6n, 10, 0);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 6n });
    c.request(NBD_CMD_READ, 7n, 0, 8, NBD_CMD_FLAG_DF); // DF needs structured replies
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EINVAL, cookie: 7n });
    c.request(NBD_CMD_READ, 8n, 0, 8, 1 << 9); // unknown flag
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.EINVAL, cookie: 8n });
  });

  it('passes the export error through: EIO by default, nbdErrno when set, EIO for short data', async () => {
    provider.readHook = (call) => {
      if (call.offset === 0) return Promise.reject(new Error('backend down'));
      if (call.offset === 4096) return Promise.reject(Object.assign(new Error('no space'), { nbdErrno: NBD_ERR.ENOSPC }));
      if (call.offset === 8192) return Promise.reject(Object.assign(new Error('weird'), { nbdErrno: 9999 }));
      if (call.offset === 12288) return Promise.resolve(new Uint8Array(3));
      return undefined;
    };
    const c = await attach();
    const expected: [number, number][] = [
      [0, NBD_ERR.EIO],
      [4096, NBD_ERR.ENOSPC],
      [8192, NBD_ERR.EIO],
      [12288, NBD_ERR.EIO],
    ];
    for (const [offset, errno] of expected) {
      c.request(NBD_CMD_READ, BigInt(offset), offset, 512);
      expect(await c.readSimpleReply()).toEqual({ error: errno, cookie: BigInt(offset) });
    }
    c.request(NBD_CMD_READ, 1n, 16384, 512);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 1n });
    expect(await c.read(512)).toEqual(disk1.subarray(16384, 16384 + 512));
    expect(logger.lines.filter((l) => l.msg.includes('export read failed'))).toHaveLength(4);
  });

  it('stops reading requests at maxInflightPerConnection (back-pressure)', async () => {
    await server.close();
    await start({ maxInflightPerConnection: 4 });
    const gates: ReturnType<typeof deferred<void>>[] = [];
    provider.readHook = (_call, data) => {
      const gate = deferred<void>();
      gates.push(gate);
      return gate.promise.then(() => data);
    };
    const c = await attach();
    const lengths = new Map<bigint, number>();
    for (let i = 0; i < 20; i++) {
      c.request(NBD_CMD_READ, BigInt(i), i * 512, 512);
      lengths.set(BigInt(i), 512);
    }
    await waitFor(() => provider.reads.length === 4, 2000, 'four reads');
    await sleep(50);
    expect(provider.reads).toHaveLength(4);
    gates[0]!.resolve();
    await waitFor(() => provider.reads.length === 5, 2000, 'a fifth read');
    await sleep(20);
    expect(provider.reads).toHaveLength(5);
    // Release everything, now and as reads arrive.
    provider.readHook = undefined;
    for (const g of gates) g.resolve();
    const seen = new Set<bigint>();
    for (let i = 0; i < 20; i++) {
      const r = await readSimpleRead(c, lengths);
      expect(r.error).toBe(0);
      seen.add(r.cookie);
    }
    expect(seen.size).toBe(20);
  });

  it('keeps the bytes being read across connections within maxInflightBytes (each connection may have one read)', async () => {
    await server.close();
    await start({ maxReadLength: 1024, maxInflightBytes: 1024 });
    const gates: ReturnType<typeof deferred<void>>[] = [];
    provider.readHook = (_call, data) => {
      const gate = deferred<void>();
      gates.push(gate);
      return gate.promise.then(() => data);
    };
    const a = await attach();
    const b = await attach();
    const lengths = new Map<bigint, number>();
    for (let i = 0; i < 4; i++) {
      a.request(NBD_CMD_READ, BigInt(i), i * 1024, 1024);
      b.request(NBD_CMD_READ, BigInt(i), i * 1024, 1024);
      lengths.set(BigInt(i), 1024);
    }
    await waitFor(() => provider.reads.length === 2, 2000, 'one read per connection');
    await sleep(50);
    expect(provider.reads).toHaveLength(2);
    gates[0]!.resolve();
    await waitFor(() => provider.reads.length === 3, 2000, 'a third read');
    await sleep(20);
    expect(provider.reads).toHaveLength(3);
    provider.readHook = undefined;
    for (const g of gates) g.resolve();
    for (const c of [a, b]) for (let i = 0; i < 4; i++) expect((await readSimpleRead(c, lengths)).error).toBe(0);
  });

  it('stops taking requests while the client does not read its replies (write back-pressure)', async () => {
    const c = await attach();
    const count = 200;
    const length = 256 * 1024; // 50 MiB requested in total
    for (let i = 0; i < count; i++) c.request(NBD_CMD_READ, BigInt(i), (i * length) % (SIZE1 - length), length);
    await sleep(300);
    const started = provider.reads.length;
    // Only what fits in socket buffers (a few MiB) plus the in-flight window has been read.
    expect(started).toBeLessThan(count * 0.75);
    await sleep(100);
    expect(provider.reads.length).toBe(started);
    let received = 0;
    for (let i = 0; i < count; i++) {
      const r = await c.readSimpleReply();
      expect(r.error).toBe(0);
      received += (await c.read(length)).length;
    }
    expect(received).toBe(count * length);
  });

  it('finishes in-flight reads after NBD_CMD_DISC, then closes', async () => {
    provider.readHook = (_call, data) => sleep(50).then(() => data);
    const c = await attach();
    const lengths = new Map<bigint, number>();
    for (let i = 0; i < 3; i++) {
      c.request(NBD_CMD_READ, BigInt(i), i * 1000, 1000);
      lengths.set(BigInt(i), 1000);
    }
    c.disconnect();
    for (let i = 0; i < 3; i++) expect((await readSimpleRead(c, lengths)).error).toBe(0);
    expect(await c.expectEof()).toBe(true);
    await waitFor(() => provider.closed.length === 1, 2000, 'export close');
  });

  it('treats end of input without NBD_CMD_DISC as a hard disconnect', async () => {
    const gate = deferred<void>();
    provider.readHook = (_call, data) => gate.promise.then(() => data);
    const c = await attach();
    c.request(NBD_CMD_READ, 1n, 0, 100);
    await waitFor(() => provider.reads.length === 1, 2000, 'read to start');
    c.socket.end(); // half-close: the server stops without waiting for the read
    expect(await c.expectEof()).toBe(true);
    await waitFor(() => provider.closed.length === 1, 2000, 'export close');
    gate.resolve();
    await sleep(20);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('copes with a client that disconnects while reads are in flight', async () => {
    const gate = deferred<void>();
    provider.readHook = (_call, data) => gate.promise.then(() => data);
    const c = await attach();
    for (let i = 0; i < 8; i++) c.request(NBD_CMD_READ, BigInt(i), i * 65536, 65536);
    await waitFor(() => provider.reads.length === 8, 2000, 'reads to start');
    c.destroy();
    await waitFor(() => server.connections === 0, 2000, 'connection to end');
    expect(provider.closed).toEqual(['demo/disk1']);
    gate.resolve(); // the reads complete after the socket is gone
    await sleep(30);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
    // and the server is fine
    const d = await attach({}, 'demo/disk2');
    d.request(NBD_CMD_READ, 1n, 0, 10);
    expect((await d.readSimpleReply()).error).toBe(0);
  });

  it('drops a client that hangs up mid-request or sends a bad request magic', async () => {
    const c = await attach();
    c.write(Buffer.from([0x25, 0x60, 0x95, 0x13, 0, 0, 0, 0, 1, 2]));
    await sleep(20);
    c.destroy();
    await waitFor(() => server.connections === 0, 2000, 'connection to end');
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('mid-message'))).toBe(true);

    const d = await attach();
    d.write(Buffer.alloc(28, 0x41));
    expect(await d.expectEof()).toBe(true);
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('bad request magic'))).toBe(true);
  });
});

describe('transmission with structured replies', () => {
  it('sends data as one final NBD_REPLY_TYPE_OFFSET_DATA chunk', async () => {
    const c = await attach({ structured: true });
    c.request(NBD_CMD_READ, 5n, 1000, 3000, NBD_CMD_FLAG_DF);
    const chunk = await c.readChunk();
    expect(chunk.type).toBe(NBD_REPLY_TYPE_OFFSET_DATA);
    expect(chunk.flags).toBe(NBD_REPLY_FLAG_DONE);
    expect(chunk.cookie).toBe(5n);
    expect(chunk.data.readBigUInt64BE(0)).toBe(1000n);
    expect(chunk.data.subarray(8).equals(disk1.subarray(1000, 4000))).toBe(true);
  });

  it('reports errors as NBD_REPLY_TYPE_ERROR chunks with a message', async () => {
    provider.readHook = (call) => (call.offset === 0 ? Promise.reject(new Error('boom')) : undefined);
    const c = await attach({ structured: true });
    c.request(NBD_CMD_READ, 1n, BigInt(SIZE1), 512);
    c.request(NBD_CMD_READ, 2n, 0, 512);
    c.request(NBD_CMD_WRITE, 3n, 0, 4, 0, Buffer.from('abcd'));
    for (const [cookie, errno, text] of [
      [1n, NBD_ERR.EINVAL, 'beyond'],
      [2n, NBD_ERR.EIO, 'boom'],
      [3n, NBD_ERR.EPERM, 'read-only'],
    ] as const) {
      const chunk = await c.readChunk();
      expect(chunk.cookie).toBe(cookie);
      expect(chunk.type).toBe(NBD_REPLY_TYPE_ERROR);
      expect(chunk.flags).toBe(NBD_REPLY_FLAG_DONE);
      expect(chunk.data.readUInt32BE(0)).toBe(errno);
      const msgLength = chunk.data.readUInt16BE(4);
      expect(chunk.data.length).toBe(6 + msgLength);
      expect(chunk.data.subarray(6).toString()).toContain(text);
    }
    // Zero-length read: a lone NBD_REPLY_TYPE_NONE; flush: a simple reply.
    c.request(NBD_CMD_READ, 4n, 0, 0);
    expect(await c.readChunk()).toMatchObject({ cookie: 4n, type: NBD_REPLY_TYPE_NONE, flags: NBD_REPLY_FLAG_DONE });
    c.request(NBD_CMD_FLUSH, 5n, 0, 0);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 5n });
  });
});

describe('transmission with readInto (reused reply buffers)', () => {
  beforeEach(async () => {
    await server.close();
    provider = createMemoryProvider(specs, { readInto: true });
    server = createNbdServer({ provider, port: 0, logger });
    ({ port } = await server.listen());
  });

  it('fills reused reply buffers with exactly the requested bytes, simple and structured', async () => {
    const simple = await attach();
    const structured = await attach({ structured: true });
    for (let k = 0; k < 12; k++) {
      const offset = (k * 262144 + k * 7) % (SIZE1 - 262144);
      const length = k % 3 === 0 ? 262144 : 100_000 + k;
      simple.request(NBD_CMD_READ, BigInt(k), offset, length);
      expect(await simple.readSimpleReply()).toEqual({ error: 0, cookie: BigInt(k) });
      expect((await simple.read(length)).equals(disk1.subarray(offset, offset + length)), `simple ${offset}+${length}`).toBe(true);
      structured.request(NBD_CMD_READ, BigInt(k), offset, length);
      const chunk = await structured.readChunk();
      expect(chunk).toMatchObject({ cookie: BigInt(k), type: NBD_REPLY_TYPE_OFFSET_DATA, flags: NBD_REPLY_FLAG_DONE });
      expect(chunk.data.readBigUInt64BE(0)).toBe(BigInt(offset));
      expect(chunk.data.subarray(8).equals(disk1.subarray(offset, offset + length)), `structured ${offset}+${length}`).toBe(true);
    }
    // One read at a time: each reply's buffer is back in the pool before the next read takes one.
    const distinct = new Set(provider.targets.map((t) => t.buffer));
    expect(provider.targets.length).toBe(24);
    expect(distinct.size).toBeLessThan(6);
    // Small reads come from Node's slab, unpooled, and are right too.
    simple.request(NBD_CMD_READ, 99n, SIZE1 - 1, 1);
    expect(await simple.readSimpleReply()).toEqual({ error: 0, cookie: 99n });
    expect(await simple.read(1)).toEqual(disk1.subarray(SIZE1 - 1));
  });

  it('answers a failed readInto with its errno and keeps serving', async () => {
    provider.readHook = (call) => (call.offset === 4096 ? Promise.reject(Object.assign(new Error('no space'), { nbdErrno: NBD_ERR.ENOSPC })) : undefined);
    const c = await attach();
    c.request(NBD_CMD_READ, 1n, 4096, 65536);
    expect(await c.readSimpleReply()).toEqual({ error: NBD_ERR.ENOSPC, cookie: 1n });
    c.request(NBD_CMD_READ, 2n, 8192, 65536);
    expect(await c.readSimpleReply()).toEqual({ error: 0, cookie: 2n });
    expect((await c.read(65536)).equals(disk1.subarray(8192, 8192 + 65536))).toBe(true);
    const s = await attach({ structured: true });
    s.request(NBD_CMD_READ, 3n, 4096, 65536);
    const chunk = await s.readChunk();
    expect(chunk).toMatchObject({ cookie: 3n, type: NBD_REPLY_TYPE_ERROR });
    expect(chunk.data.readUInt32BE(0)).toBe(NBD_ERR.ENOSPC);
    expect(chunk.data.subarray(6).toString()).toContain('no space');
  });

  it('answers many concurrent reads correctly while buffers cycle through the pool', async () => {
    provider.readHook = (_call, data) => sleep(Math.random() * 3).then(() => data);
    const c = await attach({ structured: true });
    const want = new Map<bigint, number>();
    for (let k = 0; k < 64; k++) {
      const offset = (k * 81920) % (SIZE1 - 81920);
      c.request(NBD_CMD_READ, BigInt(k), offset, 81920);
      want.set(BigInt(k), offset);
    }
    for (let k = 0; k < 64; k++) {
      const chunk = await c.readChunk();
      const offset = want.get(chunk.cookie)!;
      expect(chunk.data.subarray(8).equals(disk1.subarray(offset, offset + 81920)), `cookie ${chunk.cookie}`).toBe(true);
      want.delete(chunk.cookie);
    }
    expect(want.size).toBe(0);
  });
});
