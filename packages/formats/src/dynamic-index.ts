import { asBuffer } from './bytes.js';
import { VariableChunkTable } from './chunk-table.js';
import { packEntries, readEnds } from './entries.js';
import { FormatError } from './errors.js';
import { buildPbsFile, DIDX_MAGIC, PBS_HEADER_SIZE, readPbsHeader, sealPbsFile, verifyIndexCsum } from './pbs-header.js';
import type { PbsHeader } from './pbs-header.js';
import type { DynamicIndex, DynamicIndexInput, ParseIndexOptions } from './types.js';

class DynamicChunkIndex extends VariableChunkTable implements DynamicIndex {
  readonly format = 'didx' as const;
  readonly uuid: Buffer;
  readonly ctime: number;
  readonly indexCsum: Buffer;

  constructor(buf: Buffer, header: PbsHeader, ends: Float64Array) {
    super({ bytes: buf.subarray(PBS_HEADER_SIZE), stride: 40, digestOffset: 8 }, ends);
    this.uuid = header.uuid;
    this.ctime = header.ctime;
    this.indexCsum = header.indexCsum;
  }
}

/** Parses a Proxmox dynamic index (.didx): 4096-byte header, then 40-byte {end u64, digest} entries. */
export function parseDynamicIndex(input: Uint8Array, opts: ParseIndexOptions = {}): DynamicIndex {
  const buf = asBuffer(input);
  const header = readPbsHeader('didx', buf, DIDX_MAGIC);
  const tableSize = buf.length - PBS_HEADER_SIZE;
  if (tableSize % 40 !== 0) {
    throw new FormatError('index-size', `didx: file is ${buf.length} bytes; the ${tableSize} bytes after the header are not a whole number of 40-byte entries`);
  }
  const ends = readEnds('didx', buf, PBS_HEADER_SIZE, tableSize / 40);
  // index_csum = SHA-256(end1_le || digest1 || end2_le || ...), i.e. of the raw entry table.
  if (opts.verifyChecksum ?? true) verifyIndexCsum('didx', header, buf.subarray(PBS_HEADER_SIZE));
  return new DynamicChunkIndex(buf, header, ends);
}

/** Writes a .didx file from cumulative end offsets and digests. Computes index_csum. */
export function writeDynamicIndex(opts: DynamicIndexInput): Buffer {
  const entries = opts.entries;
  if (!Array.isArray(entries)) throw new FormatError('invalid-argument', 'didx: entries must be an array');
  const out = buildPbsFile(DIDX_MAGIC, entries.length * 40, opts);
  packEntries('didx', entries, out, PBS_HEADER_SIZE);
  return sealPbsFile(out);
}
