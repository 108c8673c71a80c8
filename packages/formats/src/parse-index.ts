import { parseCaibx } from './caibx.js';
import { parseDynamicIndex } from './dynamic-index.js';
import { FormatError } from './errors.js';
import { parseFixedIndex } from './fixed-index.js';
import type { ImageIndex, IndexFormat, ParseIndexOptions } from './types.js';

/** The index format named by a file name's extension (.fidx, .didx, .caibx), if any. */
export function indexFormatOf(name: string): IndexFormat | undefined {
  const m = /\.(fidx|didx|caibx)$/.exec(String(name));
  return m?.[1] as IndexFormat | undefined;
}

/** Whether name ends in .fidx, .didx or .caibx. */
export function isIndexName(name: string): boolean {
  return indexFormatOf(name) !== undefined;
}

/** Parses an index, choosing the format by file extension; other names give 'index-unknown'. */
export function parseIndex(name: string, buf: Uint8Array, opts: ParseIndexOptions = {}): ImageIndex {
  switch (indexFormatOf(name)) {
    case 'fidx':
      return parseFixedIndex(buf, opts);
    case 'didx':
      return parseDynamicIndex(buf, opts);
    case 'caibx':
      return parseCaibx(buf);
    default:
      throw new FormatError('index-unknown', `${JSON.stringify(String(name))} is not an index name (expected .fidx, .didx or .caibx)`);
  }
}
