import { decodeDataBlob, encodeDataBlob } from './blob.js';
import { decodeCasyncChunk, encodeCasyncChunk } from './casync-chunk.js';
import { digest, isHexDigest } from './digest.js';
import { FormatError } from './errors.js';
import { MAX_BLOB_SIZE } from './limits.js';
import type { ChunkLayout, DigestAlgorithm } from './types.js';

/** The default chunk id hash of a layout: PBS -> SHA-256, casync -> SHA-512/256, restic -> SHA-256. */
export function layoutDigestAlgorithm(layout: ChunkLayout): DigestAlgorithm {
  if (layout === 'pbs' || layout === 'restic') return 'sha256';
  if (layout === 'casync') return 'sha512-256';
  throw new FormatError('invalid-argument', `unknown chunk layout ${JSON.stringify(layout)}`);
}

/**
 * Encodes plain chunk data as the object stored in S3 and returns it with the hex digest
 * of the plain data. `alg` overrides the layout default (casync --digest=sha256 stores).
 */
export function encodeChunk(layout: ChunkLayout, plain: Uint8Array, alg?: DigestAlgorithm): { digest: string; bytes: Buffer } {
  const useAlg = alg ?? layoutDigestAlgorithm(layout);
  layoutDigestAlgorithm(layout); // rejects an unknown layout even when alg is given
  const bytes = encodeObject(layout, plain);
  return { digest: digest(useAlg, plain).toString('hex'), bytes };
}

/** Decodes a chunk object and checks that the digest of its plain data equals digestHex. */
export function decodeAndVerifyChunk(layout: ChunkLayout, digestHex: string, objectBytes: Uint8Array, alg?: DigestAlgorithm): Buffer {
  const useAlg = alg ?? layoutDigestAlgorithm(layout);
  layoutDigestAlgorithm(layout);
  if (!isHexDigest(digestHex)) {
    throw new FormatError('digest-invalid', `chunk: expected digest is not 64 lowercase hex characters: ${JSON.stringify(String(digestHex).slice(0, 80))}`);
  }
  const plain = decodeObject(layout, objectBytes);
  const actual = digest(useAlg, plain).toString('hex');
  if (actual !== digestHex) {
    throw new FormatError('digest-mismatch', `chunk: ${useAlg} digest mismatch: expected ${digestHex}, data (${plain.length} bytes) hashes to ${actual}`);
  }
  return plain;
}

/** A chunk object's bytes for plain data; a restic pack is stored as it is (restic encrypts and names it itself). */
function encodeObject(layout: ChunkLayout, plain: Uint8Array): Buffer {
  if (layout === 'pbs') return encodeDataBlob(plain);
  if (layout === 'casync') return encodeCasyncChunk(plain);
  return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
}

/** The plain data of a chunk object; a restic pack's name is the SHA-256 of the object itself. */
function decodeObject(layout: ChunkLayout, objectBytes: Uint8Array): Buffer {
  if (layout === 'pbs') return decodeDataBlob(objectBytes);
  if (layout === 'casync') return decodeCasyncChunk(objectBytes);
  if (objectBytes.byteLength > MAX_BLOB_SIZE) throw new FormatError('blob-too-large', `restic pack: ${objectBytes.byteLength} bytes, more than ${MAX_BLOB_SIZE}`);
  return Buffer.from(objectBytes.buffer, objectBytes.byteOffset, objectBytes.byteLength);
}
