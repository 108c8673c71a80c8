import { expectSafeUint } from './bytes.js';
import {
  CA_CHUNK_SIZE_LIMIT_MAX,
  CA_FORMAT_INDEX,
  CA_FORMAT_TABLE,
  CA_FORMAT_TABLE_TAIL_MARKER,
  CAIBX_DEFAULT_FEATURE_FLAGS,
  CAIBX_INDEX_SIZE as INDEX_SIZE,
  CAIBX_ITEM_SIZE as ITEM_SIZE,
  U64_MAX,
} from './caibx.js';
import { packEntries } from './entries.js';
import { FormatError } from './errors.js';
import type { CaibxInput } from './types.js';

const HEAD_SIZE = INDEX_SIZE + 16;

/** Writes a .caibx that `casync extract` accepts; defaults match `casync make` (SHA-512/256 ids, 16K/64K/256K). */
export function writeCaibx(opts: CaibxInput): Buffer {
  const entries = opts.entries;
  if (!Array.isArray(entries)) throw new FormatError('invalid-argument', 'caibx: entries must be an array');
  const out = Buffer.alloc(HEAD_SIZE + (entries.length + 1) * ITEM_SIZE);
  const largest = packEntries('caibx', entries, out, HEAD_SIZE);
  const givenMin = sizeOpt(opts.chunkSizeMin, 'chunkSizeMin');
  const givenAvg = sizeOpt(opts.chunkSizeAvg, 'chunkSizeAvg');
  const max = sizeOpt(opts.chunkSizeMax, 'chunkSizeMax') ?? Math.max(256 * 1024, largest, givenAvg ?? 0, givenMin ?? 0);
  const avg = givenAvg ?? Math.min(Math.max(64 * 1024, givenMin ?? 0), max);
  const min = givenMin ?? Math.min(16 * 1024, avg);
  if (!(min <= avg && avg <= max)) {
    throw new FormatError('invalid-argument', `caibx: chunk sizes must satisfy min <= avg <= max, got ${min}/${avg}/${max}`);
  }
  if (largest > max) {
    throw new FormatError('invalid-argument', `caibx: a chunk of ${largest} bytes exceeds chunkSizeMax ${max}; casync would reject the index`);
  }
  const flags = opts.featureFlags ?? CAIBX_DEFAULT_FEATURE_FLAGS;
  if (typeof flags !== 'bigint' || flags < 0n || flags >= U64_MAX) {
    throw new FormatError('invalid-argument', `caibx: featureFlags must be a bigint in [0, 2^64-1), got ${String(flags)}`);
  }
  out.writeBigUInt64LE(BigInt(INDEX_SIZE), 0);
  out.writeBigUInt64LE(CA_FORMAT_INDEX, 8);
  out.writeBigUInt64LE(flags, 16);
  [min, avg, max].forEach((v, i) => out.writeBigUInt64LE(BigInt(v), 24 + i * 8));
  out.writeBigUInt64LE(U64_MAX, 48);
  out.writeBigUInt64LE(CA_FORMAT_TABLE, 56);
  const tail = out.length - ITEM_SIZE;
  out.writeBigUInt64LE(BigInt(INDEX_SIZE), tail + 16);
  out.writeBigUInt64LE(BigInt(16 + (entries.length + 1) * ITEM_SIZE), tail + 24);
  out.writeBigUInt64LE(CA_FORMAT_TABLE_TAIL_MARKER, tail + 32);
  return out;
}

function sizeOpt(v: number | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = expectSafeUint(v, `caibx: ${name}`);
  if (n < 1 || n > CA_CHUNK_SIZE_LIMIT_MAX) {
    throw new FormatError('invalid-argument', `caibx: ${name} ${n} is outside casync's limits [1, ${CA_CHUNK_SIZE_LIMIT_MAX}]`);
  }
  return n;
}
