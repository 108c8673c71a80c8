// Test helper (not built): an in-memory export provider with hooks to observe and steer reads.
import type { NbdExport, NbdExportProvider, NbdLogger } from './types.js';

/** Deterministic pseudo-random bytes (xorshift32), so tests can regenerate expected data. */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 0x9e3779b9;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  for (; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export interface MemoryExportSpec {
  name: string;
  data: Buffer;
  description?: string;
}

export interface ReadCall {
  readonly exportName: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * In-memory provider. `readHook` may replace a read (return a promise, e.g. a rejection or a
 * delayed result); returning undefined uses the data.
 */
export interface MemoryProvider extends NbdExportProvider {
  readonly reads: ReadCall[];
  readonly opened: string[];
  readonly closed: string[];
  readHook: ((call: ReadCall, data: Buffer) => Promise<Uint8Array> | undefined) | undefined;
  /** With `{ readInto: true }`: the reply buffers the server handed to `readInto`, in order. */
  readonly targets: Buffer[];
}

/** Build an in-memory provider over `specs`; `readInto: true` gives its exports `readInto` as well as `read`. */
export function createMemoryProvider(specs: MemoryExportSpec[], opts: { readInto?: boolean } = {}): MemoryProvider {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const provider: MemoryProvider = {
    reads: [],
    opened: [],
    closed: [],
    targets: [],
    readHook: undefined,
    async list() {
      return specs.map((s) => (s.description ? { name: s.name, description: s.description } : { name: s.name }));
    },
    async open(name: string): Promise<NbdExport | undefined> {
      const spec = byName.get(name);
      if (!spec) return undefined;
      provider.opened.push(name);
      const exp: NbdExport = {
        name: spec.name,
        size: spec.data.length,
        ...(spec.description ? { description: spec.description } : {}),
        read(offset: number, length: number): Promise<Uint8Array> {
          const call = { exportName: name, offset, length };
          provider.reads.push(call);
          const data = spec.data.subarray(offset, offset + length);
          return provider.readHook?.(call, data) ?? Promise.resolve(data);
        },
        close() {
          provider.closed.push(name);
        },
      };
      if (opts.readInto) {
        exp.readInto = async (offset: number, length: number, target: () => Buffer): Promise<void> => {
          const data = await exp.read(offset, length);
          if (data.length !== length) throw new Error(`short data: ${data.length} of ${length} bytes`);
          const buf = target();
          provider.targets.push(buf);
          buf.set(data);
        };
      }
      return exp;
    },
  };
  return provider;
}

/** The two exports most tests use: 5 MiB + 1234 bytes and 100 KiB of pseudo-random data. */
export function demoExports(): MemoryExportSpec[] {
  return [
    { name: 'demo/disk1', data: pseudoRandomBytes(5 * 1024 * 1024 + 1234, 1), description: 'first demo disk' },
    { name: 'demo/disk2', data: pseudoRandomBytes(100 * 1024, 2) },
  ];
}

/** A logger that records lines for assertions. */
export function recordingLogger(): NbdLogger & { lines: { level: 'info' | 'warn'; msg: string; meta?: object }[] } {
  const lines: { level: 'info' | 'warn'; msg: string; meta?: object }[] = [];
  return {
    lines,
    info(msg, meta) {
      lines.push(meta ? { level: 'info', msg, meta } : { level: 'info', msg });
    },
    warn(msg, meta) {
      lines.push(meta ? { level: 'warn', msg, meta } : { level: 'warn', msg });
    },
  };
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `cond` until true or `timeoutMs` elapses (then throws). */
export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
