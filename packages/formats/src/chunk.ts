import { decodeDataBlob, encodeDataBlob } from './blob.js';
import { decodeCasyncChunk, encodeCasyncChunk } from './casync-chunk.js';
import { digest, isHexDigest } from './digest.js';
import { FormatError } from './errors.js';
import type { ChunkLayout, DigestAlgorithm } from './types.js';

/** The default chunk id hash of a layout: PBS -> SHA-256, casync -> SHA-512/256. */
export function layoutDigestAlgorithm(layout: ChunkLayout): DigestAlgorithm {
  if (layout === 'pbs') return 'sha256';
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
  const bytes = layout === 'pbs' ? encodeDataBlob(plain) : encodeCasyncChunk(plain);
  return { digest: digest(useAlg, plain).toString('hex'), bytes };
}

/** Decodes a chunk object and checks that the digest of its plain data equals digestHex. */
export function decodeAndVerifyChunk(layout: ChunkLayout, digestHex: string, objectBytes: Uint8Array, alg?: DigestAlgorithm): Buffer {
  const useAlg = alg ?? layoutDigestAlgorithm(layout);
  layoutDigestAlgorithm(layout);
  if (!isHexDigest(digestHex)) {
    throw new FormatError('digest-invalid', `chunk: expected digest is not 64 lowercase hex characters: ${JSON.stringify(String(digestHex).slice(0, 80))}`);
  }
  const plain = layout === 'pbs' ? decodeDataBlob(objectBytes) : decodeCasyncChunk(objectBytes);
  const actual = digest(useAlg, plain).toString('hex');
  if (actual !== digestHex) {
    throw new FormatError('digest-mismatch', `chunk: ${useAlg} digest mismatch: expected ${digestHex}, data (${plain.length} bytes) hashes to ${actual}`);
  }
  return plain;
}
