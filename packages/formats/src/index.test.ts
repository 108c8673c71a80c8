import { describe, expect, it } from 'vitest';
import * as api from './index.js';
import { FormatError, isFormatError } from './index.js';

describe('public entry', () => {
  it('exports the agreed API', () => {
    const names = [
      'digest',
      'isHexDigest',
      'zstdCompress',
      'zstdDecompress',
      'BLOB_MAGIC',
      'blobKind',
      'encodeDataBlob',
      'decodeDataBlob',
      'encodeCasyncChunk',
      'decodeCasyncChunk',
      'layoutDigestAlgorithm',
      'encodeChunk',
      'decodeAndVerifyChunk',
      'parseFixedIndex',
      'writeFixedIndex',
      'parseDynamicIndex',
      'writeDynamicIndex',
      'parseCaibx',
      'writeCaibx',
      'parseIndex',
      'isIndexName',
      'zeroChunkDigest',
      'FormatError',
    ];
    for (const n of names) expect(api, n).toHaveProperty(n);
  });

  it('round-trips a chunk through the public API', () => {
    const { digest, bytes } = api.encodeChunk('pbs', Buffer.from('public'));
    expect(api.decodeAndVerifyChunk('pbs', digest, bytes).toString()).toBe('public');
  });
});

describe('FormatError', () => {
  it('carries a stable code, a name and an optional cause', () => {
    const cause = new Error('inner');
    const err = new FormatError('blob-crc', 'blob: CRC32 mismatch', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('FormatError');
    expect(err.code).toBe('blob-crc');
    expect(err.cause).toBe(cause);
    expect(new FormatError('index-short', 'x').cause).toBeUndefined();
    expect(isFormatError(err)).toBe(true);
    expect(isFormatError(err, 'blob-crc')).toBe(true);
    expect(isFormatError(err, 'blob-magic')).toBe(false);
    expect(isFormatError(cause)).toBe(false);
  });

  it('is what bad argument types produce, not a TypeError', () => {
    expect(() => api.parseCaibx('not bytes' as never)).toThrow(FormatError);
    expect(() => api.decodeDataBlob(undefined as never)).toThrow(FormatError);
  });
});
