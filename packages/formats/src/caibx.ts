import { asBuffer } from './bytes.js';
import { VariableChunkTable } from './chunk-table.js';
import { readEnds } from './entries.js';
import { FormatError } from './errors.js';
import type { CaibxIndex, DigestAlgorithm } from './types.js';

/** CaFormatIndex: {size u64 = 48, type u64, feature_flags, chunk_size_min, _avg, _max}. */
export const CA_FORMAT_INDEX = 0x96824d9c7b129ff9n;
/** CaFormatTable header: {size u64 = UINT64_MAX, type u64}. */
export const CA_FORMAT_TABLE = 0xe75b9e112f17417dn;
/** Last u64 of the 40-byte CaFormatTableTail. */
export const CA_FORMAT_TABLE_TAIL_MARKER = 0x4b4f050e5549ecd1n;
/** Feature flag saying chunk ids are SHA-512/256 (absent: SHA-256). */
export const CA_FORMAT_SHA512_256 = 0x2000000000000000n;
/** What `casync make` writes for a blob index by default: EXCLUDE_NODUMP | SHA512_256 | EXCLUDE_FILE. */
export const CAIBX_DEFAULT_FEATURE_FLAGS = 0xb000000000000000n;
/** casync's largest allowed chunk size (CA_CHUNK_SIZE_LIMIT_MAX, 128 MiB; the minimum is 1). */
export const CA_CHUNK_SIZE_LIMIT_MAX = 128 * 1024 * 1024;

/** Size of CaFormatIndex; also the tail's index_offset. */
export const CAIBX_INDEX_SIZE = 48;
/** Size of an item (and of the tail). */
export const CAIBX_ITEM_SIZE = 40;
/** The table header's size field: UINT64_MAX (written before the table length is known). */
export const U64_MAX = 0xffffffffffffffffn;

const INDEX_SIZE = CAIBX_INDEX_SIZE;
const HEAD_SIZE = INDEX_SIZE + 16;
const ITEM_SIZE = CAIBX_ITEM_SIZE;

class CaibxChunkIndex extends VariableChunkTable implements CaibxIndex {
  readonly format = 'caibx' as const;
  constructor(
    buf: Buffer,
    ends: Float64Array,
    readonly featureFlags: bigint,
    readonly chunkSizeMin: number,
    readonly chunkSizeAvg: number,
    readonly chunkSizeMax: number,
  ) {
    super({ bytes: buf.subarray(HEAD_SIZE), stride: ITEM_SIZE, digestOffset: 8 }, ends);
  }

  get digestAlgorithm(): DigestAlgorithm {
    return caibxDigestAlgorithm(this.featureFlags);
  }
}

/** Chunk id algorithm of a casync index: SHA-512/256 when the CA_FORMAT_SHA512_256 flag is set, else SHA-256. */
export function caibxDigestAlgorithm(featureFlags: bigint): DigestAlgorithm {
  return (featureFlags & CA_FORMAT_SHA512_256) !== 0n ? 'sha512-256' : 'sha256';
}

/** Parses a casync blob index (.caibx): index header, table header, 40-byte items, 40-byte tail. */
export function parseCaibx(input: Uint8Array): CaibxIndex {
  const buf = asBuffer(input);
  const minimum = HEAD_SIZE + ITEM_SIZE;
  if (buf.length < minimum) {
    throw new FormatError('index-short', `caibx: file is ${buf.length} bytes, shorter than the ${minimum}-byte minimum (headers + tail)`);
  }
  const hdrSize = buf.readBigUInt64LE(0);
  const hdrType = buf.readBigUInt64LE(8);
  if (hdrType !== CA_FORMAT_INDEX) {
    throw new FormatError('index-magic', `caibx: wrong index type 0x${hdrType.toString(16)}, expected 0x${CA_FORMAT_INDEX.toString(16)}`);
  }
  if (hdrSize !== BigInt(INDEX_SIZE)) {
    throw new FormatError('index-header', `caibx: index header size is ${hdrSize}, expected ${INDEX_SIZE}`);
  }
  const featureFlags = buf.readBigUInt64LE(16);
  const [min, avg, max] = [24, 32, 40].map((o) => readChunkSizeField(buf, o)) as [number, number, number];
  if (!(min <= avg && avg <= max)) {
    throw new FormatError('index-header', `caibx: chunk sizes must satisfy min <= avg <= max, got ${min}/${avg}/${max}`);
  }
  const tableSize = buf.readBigUInt64LE(48);
  const tableType = buf.readBigUInt64LE(56);
  if (tableSize !== U64_MAX || tableType !== CA_FORMAT_TABLE) {
    throw new FormatError(
      'index-header',
      `caibx: table header is {size 0x${tableSize.toString(16)}, type 0x${tableType.toString(16)}}, expected {0xffffffffffffffff, 0x${CA_FORMAT_TABLE.toString(16)}}`,
    );
  }
  const body = buf.length - HEAD_SIZE;
  if (body % ITEM_SIZE !== 0) {
    throw new FormatError('index-size', `caibx: file is ${buf.length} bytes; the ${body} bytes after the headers are not a whole number of 40-byte items`);
  }
  const count = body / ITEM_SIZE - 1;
  checkTail(buf, count);
  const ends = readEnds('caibx', buf, HEAD_SIZE, count, max);
  return new CaibxChunkIndex(buf, ends, featureFlags, min, avg, max);
}

function readChunkSizeField(buf: Buffer, offset: number): number {
  const name = ['chunk_size_min', 'chunk_size_avg', 'chunk_size_max'][(offset - 24) / 8]!;
  const v = buf.readBigUInt64LE(offset);
  if (v < 1n || v > BigInt(CA_CHUNK_SIZE_LIMIT_MAX)) {
    throw new FormatError('index-header', `caibx: ${name} is ${v}, outside casync's limits [1, ${CA_CHUNK_SIZE_LIMIT_MAX}]`);
  }
  return Number(v);
}

/** Tail: {zero u64, zero u64, index_offset u64 = 48, size u64 = table size incl. tail, marker u64}. */
function checkTail(buf: Buffer, count: number): void {
  const at = buf.length - ITEM_SIZE;
  const expectSize = BigInt(16 + count * ITEM_SIZE + ITEM_SIZE);
  const fields: [string, bigint, bigint][] = [
    ['first zero fill', buf.readBigUInt64LE(at), 0n],
    ['second zero fill', buf.readBigUInt64LE(at + 8), 0n],
    ['index_offset', buf.readBigUInt64LE(at + 16), BigInt(INDEX_SIZE)],
    ['table size', buf.readBigUInt64LE(at + 24), expectSize],
    ['marker', buf.readBigUInt64LE(at + 32), CA_FORMAT_TABLE_TAIL_MARKER],
  ];
  for (const [name, got, want] of fields) {
    if (got !== want) {
      throw new FormatError(
        'index-tail',
        `caibx: malformed table tail at byte ${at}: ${name} is 0x${got.toString(16)}, expected 0x${want.toString(16)} (file truncated or not a caibx?)`,
      );
    }
  }
}
