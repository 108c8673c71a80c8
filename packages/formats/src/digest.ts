import { createHash } from 'node:crypto';
import { asBuffer } from './bytes.js';
import { FormatError } from './errors.js';
import type { DigestAlgorithm } from './types.js';

const HEX64 = /^[0-9a-f]{64}$/;

/** Hashes data with SHA-256 or SHA-512/256; both give 32 bytes. */
export function digest(alg: DigestAlgorithm, data: Uint8Array): Buffer {
  if (alg !== 'sha256' && alg !== 'sha512-256') {
    throw new FormatError('invalid-argument', `unknown digest algorithm ${JSON.stringify(alg)}`);
  }
  return createHash(alg).update(asBuffer(data)).digest();
}

/** Whether s is exactly 64 lowercase hex characters. */
export function isHexDigest(s: string): boolean {
  return typeof s === 'string' && HEX64.test(s);
}

/** Parses a 64-char lowercase hex digest into 32 bytes; throws 'digest-invalid'. */
export function digestFromHex(hex: string): Buffer {
  if (!isHexDigest(hex)) {
    throw new FormatError('digest-invalid', `not a digest (64 lowercase hex characters): ${JSON.stringify(String(hex).slice(0, 80))}`);
  }
  return Buffer.from(hex, 'hex');
}
