import { digest, type DigestAlgorithm } from '@larder/formats';

const digests = new Map<string, string>();
const zeros = new Map<number, Buffer>();

/** Hex digest of `length` zero bytes (memoized per algorithm and length). */
export function zeroDigest(alg: DigestAlgorithm, length: number): string {
  const key = `${alg}:${length}`;
  let d = digests.get(key);
  if (!d) {
    d = digest(alg, zeroBuffer(length)).toString('hex');
    if (digests.size > 4096) digests.clear();
    digests.set(key, d);
  }
  return d;
}

/** A shared read-only buffer of zeros (memoized per length, bounded). */
export function zeroBuffer(length: number): Buffer {
  let z = zeros.get(length);
  if (!z) {
    z = Buffer.alloc(length);
    if (zeros.size > 64) zeros.clear();
    zeros.set(length, z);
  }
  return z;
}
