import { FormatError } from './errors.js';

/** A Buffer view over the same memory as `data` (no copy). */
export function asBuffer(data: Uint8Array): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (!(data instanceof Uint8Array)) {
    throw new FormatError('invalid-argument', `expected a Uint8Array, got ${describe(data)}`);
  }
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Throws 'invalid-argument' unless `data` is a Uint8Array of exactly `length` bytes. */
export function expectBytes(data: unknown, length: number, what: string): Buffer {
  if (!(data instanceof Uint8Array)) {
    throw new FormatError('invalid-argument', `${what}: expected ${length} bytes, got ${describe(data)}`);
  }
  if (data.length !== length) {
    throw new FormatError('invalid-argument', `${what}: expected ${length} bytes, got ${data.length}`);
  }
  return asBuffer(data);
}

/** Throws 'invalid-argument' unless `n` is a safe non-negative integer. */
export function expectSafeUint(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new FormatError('invalid-argument', `${what}: expected a non-negative safe integer, got ${String(n)}`);
  }
  return n;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return typeof v;
}
