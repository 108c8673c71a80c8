import { asBuffer, expectBytes, expectSafeUint } from './bytes.js';
import { ChunkTable } from './chunk-table.js';
import { FormatError } from './errors.js';
import { buildPbsFile, FIDX_MAGIC, PBS_HEADER_SIZE, readPbsHeader, sealPbsFile, verifyIndexCsum } from './pbs-header.js';
import type { PbsHeader } from './pbs-header.js';
import type { FixedIndex, FixedIndexInput, ParseIndexOptions } from './types.js';
import { readSafeU64 } from './u64.js';

class FixedChunkIndex extends ChunkTable implements FixedIndex {
  readonly format = 'fidx' as const;
  readonly size: number;
  readonly chunkSize: number;
  readonly uuid: Buffer;
  readonly ctime: number;
  readonly indexCsum: Buffer;

  constructor(buf: Buffer, header: PbsHeader, size: number, chunkSize: number, count: number) {
    super({ bytes: buf.subarray(PBS_HEADER_SIZE), stride: 32, digestOffset: 0 }, count);
    this.size = size;
    this.chunkSize = chunkSize;
    this.uuid = header.uuid;
    this.ctime = header.ctime;
    this.indexCsum = header.indexCsum;
  }

  /** Byte offset where chunk i starts: i * chunkSize. */
  chunkStart(i: number): number {
    this.checkIndex(i);
    return i * this.chunkSize;
  }

  /** Byte offset where chunk i ends: the next boundary, or size for the last chunk. */
  chunkEnd(i: number): number {
    this.checkIndex(i);
    return Math.min((i + 1) * this.chunkSize, this.size);
  }

  /** Chunk containing offset, by division; -1 outside [0, size). */
  findChunk(offset: number): number {
    if (!(offset >= 0 && offset < this.size)) return -1;
    return Math.floor(offset / this.chunkSize);
  }
}

/** Parses a Proxmox fixed index (.fidx): 4096-byte header, then one 32-byte digest per chunk. */
export function parseFixedIndex(input: Uint8Array, opts: ParseIndexOptions = {}): FixedIndex {
  const buf = asBuffer(input);
  const header = readPbsHeader('fidx', buf, FIDX_MAGIC);
  const size = readSafeU64(buf, 64, 'fidx: size');
  const rawChunkSize = buf.readBigUInt64LE(72);
  if (rawChunkSize === 0n || (rawChunkSize & (rawChunkSize - 1n)) !== 0n) {
    throw new FormatError('index-chunk-size', `fidx: chunk_size ${rawChunkSize} is not a power of two`);
  }
  const chunkSize = readSafeU64(buf, 72, 'fidx: chunk_size');
  const count = Math.ceil(size / chunkSize);
  const expected = PBS_HEADER_SIZE + count * 32;
  if (buf.length !== expected) {
    throw new FormatError('index-size', `fidx: file is ${buf.length} bytes, expected ${expected} for ${count} chunk(s) of ${chunkSize} bytes covering ${size} bytes`);
  }
  if (opts.verifyChecksum ?? true) verifyIndexCsum('fidx', header, buf.subarray(PBS_HEADER_SIZE));
  return new FixedChunkIndex(buf, header, size, chunkSize, count);
}

/** Writes a .fidx file; digests.length must equal ceil(size / chunkSize). Computes index_csum. */
export function writeFixedIndex(opts: FixedIndexInput): Buffer {
  const size = expectSafeUint(opts.size, 'fidx: size');
  const chunkSize = expectSafeUint(opts.chunkSize, 'fidx: chunkSize');
  if (chunkSize === 0 || 2 ** Math.round(Math.log2(chunkSize)) !== chunkSize) {
    throw new FormatError('invalid-argument', `fidx: chunkSize ${chunkSize} is not a power of two`);
  }
  const count = Math.ceil(size / chunkSize);
  if (!Array.isArray(opts.digests) || opts.digests.length !== count) {
    const got = Array.isArray(opts.digests) ? opts.digests.length : 'no';
    throw new FormatError('invalid-argument', `fidx: ${got} digests given, expected ${count} for ${size} bytes in chunks of ${chunkSize}`);
  }
  const out = buildPbsFile(FIDX_MAGIC, count * 32, opts);
  out.writeBigUInt64LE(BigInt(size), 64);
  out.writeBigUInt64LE(BigInt(chunkSize), 72);
  opts.digests.forEach((d, i) => expectBytes(d, 32, `fidx: digests[${i}]`).copy(out, PBS_HEADER_SIZE + i * 32));
  return sealPbsFile(out);
}
