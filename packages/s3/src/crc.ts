import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';

/** A running checksum of the kind S3 clients send in `x-amz-checksum-*` headers and trailers. */
export interface Checksum {
  update(data: Buffer): void;
  /** The checksum as S3 spells it: base64 of its big-endian bytes. */
  digest(): string;
}

/** Table of a reflected CRC-32 with polynomial `poly` (reversed form). */
function crc32Table(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
}

let crc32cTable: Uint32Array | undefined;

/** CRC-32C (Castagnoli) of `data`, continuing from `crc` (0 to start). */
export function crc32c(data: Buffer, crc = 0): number {
  const table = (crc32cTable ??= crc32Table(0x82f63b78));
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

let crc64Tables: { lo: Uint32Array; hi: Uint32Array } | undefined;

/** The table of CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5), as low and high 32-bit halves. */
function crc64NvmeTables(): { lo: Uint32Array; hi: Uint32Array } {
  const lo = new Uint32Array(256);
  const hi = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let l = i;
    let h = 0;
    for (let k = 0; k < 8; k++) {
      const bit = l & 1;
      l = ((l >>> 1) | (h << 31)) >>> 0;
      h = h >>> 1;
      if (bit) {
        l = (l ^ 0xac4bc9b5) >>> 0;
        h = (h ^ 0x9a6c9329) >>> 0;
      }
    }
    lo[i] = l;
    hi[i] = h;
  }
  return { lo, hi };
}

/** CRC-64/NVME, kept as two 32-bit halves (BigInt per byte would be slow). */
class Crc64Nvme implements Checksum {
  private lo = 0xffffffff;
  private hi = 0xffffffff;

  update(data: Buffer): void {
    const t = (crc64Tables ??= crc64NvmeTables());
    let { lo, hi } = this;
    for (let i = 0; i < data.length; i++) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ t.lo[idx]!) >>> 0;
      hi = ((hi >>> 8) ^ t.hi[idx]!) >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
  }

  digest(): string {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.hi >>> 0, 0);
    out.writeUInt32BE(~this.lo >>> 0, 4);
    return out.toString('base64');
  }
}

class Crc32Of implements Checksum {
  private crc = 0;
  constructor(private readonly fn: (data: Buffer, crc: number) => number) {}
  update(data: Buffer): void {
    this.crc = this.fn(data, this.crc);
  }
  digest(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.crc >>> 0, 0);
    return out.toString('base64');
  }
}

/** The checksum algorithms S3 knows, by the suffix of their header name (`x-amz-checksum-<name>`). */
export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** A new running checksum of an algorithm. */
export function newChecksum(algorithm: ChecksumAlgorithm): Checksum {
  switch (algorithm) {
    case 'crc32':
      return new Crc32Of((data, crc) => zlibCrc32(data, crc));
    case 'crc32c':
      return new Crc32Of(crc32c);
    case 'crc64nvme':
      return new Crc64Nvme();
    case 'sha1':
    case 'sha256': {
      const hash = createHash(algorithm);
      return { update: (data) => hash.update(data), digest: () => hash.digest('base64') };
    }
  }
}
