export type {
  BlobKind,
  CaibxIndex,
  CaibxInput,
  ImageIndex,
  ChunkLayout,
  DecodeOptions,
  DigestAlgorithm,
  DynamicIndex,
  DynamicIndexInput,
  EncodeBlobOptions,
  FixedIndex,
  FixedIndexInput,
  FormatErrorCode,
  IndexEntry,
  IndexFormat,
  ParseIndexOptions,
} from './types.js';
export { FormatError, isFormatError } from './errors.js';
export { digest, digestFromHex, isHexDigest } from './digest.js';
export { DEFAULT_MAX_DECODED_SIZE, MAX_BLOB_SIZE, MAX_CHUNK_SIZE } from './limits.js';
export { crc32 } from './crc32.js';
export { ZSTD_MAGIC, zstdCompress, zstdDecompress } from './zstd.js';
export { BLOB_HEADER_SIZE, BLOB_MAGIC, blobKind, decodeDataBlob, encodeDataBlob } from './blob.js';
export { decodeCasyncChunk, encodeCasyncChunk } from './casync-chunk.js';
export { decodeAndVerifyChunk, encodeChunk, layoutDigestAlgorithm } from './chunk.js';
export { rememberZeroDigests, zeroChunkDigest } from './zero.js';
export { DIDX_MAGIC, FIDX_MAGIC, PBS_HEADER_SIZE } from './pbs-header.js';
export { parseFixedIndex, writeFixedIndex } from './fixed-index.js';
export { parseDynamicIndex, writeDynamicIndex } from './dynamic-index.js';
export { CA_FORMAT_INDEX, CA_FORMAT_SHA512_256, CA_FORMAT_TABLE, CA_FORMAT_TABLE_TAIL_MARKER, CAIBX_DEFAULT_FEATURE_FLAGS, caibxDigestAlgorithm, parseCaibx } from './caibx.js';
export { writeCaibx } from './caibx-writer.js';
export { indexFormatOf, isIndexName, parseIndex } from './parse-index.js';
