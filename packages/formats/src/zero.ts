import { createHash } from 'node:crypto';
import type { DigestAlgorithm } from './types.js';

/**
 * Zero digests remembered per algorithm. casync chunks have nearly as many lengths as chunks, so this must
 * hold every length of a large image, else each pass hashes all of them again (a string of ~64 characters
 * per length: a few MiB at most).
 */
const MAX_REMEMBERED = 65536;
const digests = new Map<DigestAlgorithm, Map<number, string>>();
const ZERO_BLOCK = Buffer.alloc(64 * 1024);

/**
 * Remember the zero digests of many lengths at once (every chunk length of a casync index): one hash walks up through
 * the lengths in order and is copied at each, so the cost is the longest length, not the sum of them all (which for a
 * 1 GiB image is hashing 1 GiB of zeros).
 */
export function rememberZeroDigests(alg: DigestAlgorithm, lengths: Iterable<number>): void {
  let memo = digests.get(alg);
  if (!memo) {
    memo = new Map();
    digests.set(alg, memo);
  }
  const todo = [...new Set(lengths)].filter((n) => !memo.has(n)).sort((a, b) => a - b);
  if (todo.length === 0) return;
  if (memo.size + todo.length > MAX_REMEMBERED) memo.clear();
  const h = createHash(alg);
  let at = 0;
  for (const length of todo.slice(0, MAX_REMEMBERED)) {
    for (; at < length;) {
      const n = Math.min(ZERO_BLOCK.length, length - at);
      h.update(n === ZERO_BLOCK.length ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, n));
      at += n;
    }
    memo.set(length, h.copy().digest('hex'));
  }
}

/** Hex digest of a chunk of `length` zero bytes (memoized per algorithm and length): zero chunks are recognised by it, never fetched. */
export function zeroChunkDigest(alg: DigestAlgorithm, length: number): string {
  let memo = digests.get(alg);
  if (!memo) {
    memo = new Map();
    digests.set(alg, memo);
  }
  let d = memo.get(length);
  if (d === undefined) {
    // Hashed from one shared block of zeros: no zeroed buffer of every length.
    const h = createHash(alg);
    for (let left = length; left > 0; left -= ZERO_BLOCK.length) h.update(left >= ZERO_BLOCK.length ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, left));
    d = h.digest('hex');
    if (memo.size >= MAX_REMEMBERED) memo.clear();
    memo.set(length, d);
  }
  return d;
}
