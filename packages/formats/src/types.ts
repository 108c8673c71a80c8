/** Hash used for chunk ids: PBS uses SHA-256, casync SHA-512/256 by default (or SHA-256). */
export type DigestAlgorithm = 'sha256' | 'sha512-256';

/** The four Proxmox DataBlob variants, told apart by their 8-byte magic. */
export type BlobKind = 'plain' | 'zstd' | 'encrypted' | 'encrypted-zstd';

/** How chunk objects are stored: PBS DataBlobs, casync `.cacnk` zstd frames, or restic pack files (opaque bytes named by their SHA-256). */
export type ChunkLayout = 'pbs' | 'casync' | 'restic';

/** The index file formats Larder reads. */
export type IndexFormat = 'fidx' | 'didx' | 'caibx';

/** Stable machine-readable codes carried by FormatError. */
export type FormatErrorCode =
  | 'invalid-argument'
  | 'digest-invalid'
  | 'digest-mismatch'
  | 'zstd-corrupt'
  | 'zstd-too-large'
  | 'gzip-corrupt'
  | 'gzip-too-large'
  | 'chunk-compression'
  | 'blob-short'
  | 'blob-magic'
  | 'blob-crc'
  | 'blob-encrypted'
  | 'blob-too-large'
  | 'index-unknown'
  | 'index-short'
  | 'index-magic'
  | 'index-header'
  | 'index-size'
  | 'index-chunk-size'
  | 'index-csum'
  | 'index-order'
  | 'index-overflow'
  | 'index-tail'
  | 'index-range';

/** Common read interface over .fidx, .didx and .caibx indexes. */
export interface ImageIndex {
  readonly format: IndexFormat;
  /** Total bytes of the image. */
  readonly size: number;
  readonly chunkCount: number;
  /** Byte offset where chunk i starts. */
  chunkStart(i: number): number;
  /** Byte offset where chunk i ends (exclusive). */
  chunkEnd(i: number): number;
  /** Chunk id as 64 lowercase hex characters. */
  chunkDigest(i: number): string;
  /** Chunk id as 32 bytes (a view into the index buffer: do not modify). */
  chunkDigestBytes(i: number): Buffer;
  /** Index of the chunk containing offset, or -1 when offset is outside [0, size). */
  findChunk(offset: number): number;
}

/** A parsed Proxmox fixed index (.fidx). */
export interface FixedIndex extends ImageIndex {
  readonly format: 'fidx';
  readonly chunkSize: number;
  readonly uuid: Buffer;
  readonly ctime: number;
  readonly indexCsum: Buffer;
}

/** A parsed Proxmox dynamic index (.didx). */
export interface DynamicIndex extends ImageIndex {
  readonly format: 'didx';
  readonly uuid: Buffer;
  readonly ctime: number;
  readonly indexCsum: Buffer;
}

/** A parsed casync blob index (.caibx). */
export interface CaibxIndex extends ImageIndex {
  readonly format: 'caibx';
  readonly featureFlags: bigint;
  readonly chunkSizeMin: number;
  readonly chunkSizeAvg: number;
  readonly chunkSizeMax: number;
  /** Chunk id algorithm implied by the CA_FORMAT_SHA512_256 feature flag. */
  readonly digestAlgorithm: DigestAlgorithm;
}

/** Options for the Proxmox index parsers. */
export interface ParseIndexOptions {
  /** Check the header's index_csum against the entries (default true). */
  verifyChecksum?: boolean;
}

/** One entry of a variable-size index: exclusive cumulative end offset plus 32-byte digest. */
export interface IndexEntry {
  end: number;
  digest: Uint8Array;
}

/** Input of writeFixedIndex. */
export interface FixedIndexInput {
  size: number;
  chunkSize: number;
  digests: Uint8Array[];
  uuid?: Uint8Array;
  ctime?: number;
}

/** Input of writeDynamicIndex. */
export interface DynamicIndexInput {
  entries: IndexEntry[];
  uuid?: Uint8Array;
  ctime?: number;
}

/** Input of writeCaibx. */
export interface CaibxInput {
  entries: IndexEntry[];
  featureFlags?: bigint;
  chunkSizeMin?: number;
  chunkSizeAvg?: number;
  chunkSizeMax?: number;
}

/** Options for encodeDataBlob. */
export interface EncodeBlobOptions {
  /** Try zstd level 1 and keep it when smaller (default true). */
  compress?: boolean;
}

/** Options for decoders that inflate data. */
export interface DecodeOptions {
  /** Largest decoded size accepted, in bytes. */
  maxSize?: number;
}
