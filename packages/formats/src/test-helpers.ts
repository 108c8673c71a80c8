// Shared test utilities (excluded from the build by tsconfig's `src/**/test-*.ts`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import { FormatError } from './errors.js';
import type { FormatErrorCode } from './types.js';

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Integer in [0, n). */
export function randInt(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

/** n pseudo-random bytes from r. */
export function randomBytesFrom(r: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = randInt(r, 256);
  return b;
}

/** A 32-byte digest whose bytes are all `fill`. */
export function fakeDigest(fill: number): Buffer {
  return Buffer.alloc(32, fill);
}

/** Runs fn and asserts it throws a FormatError with the code (and message pattern); returns it. */
export function expectFormatError(fn: () => unknown, code: FormatErrorCode, message?: RegExp | string): FormatError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected FormatError ${code}`).toBeInstanceOf(FormatError);
  const fe = caught as FormatError;
  expect(fe.code).toBe(code);
  if (message !== undefined) expect(fe.message).toMatch(message);
  return fe;
}

/** Applies one random mutation: byte flips, a truncation, an extension or a u64 overwrite. */
export function mutate(r: () => number, src: Buffer, hot: number[] = []): Buffer {
  const kind = randInt(r, 5);
  if (kind === 0) return src.subarray(0, randInt(r, src.length));
  if (kind === 1) return Buffer.concat([src, randomBytesFrom(r, 1 + randInt(r, 80))]);
  const out = Buffer.from(src);
  if (out.length === 0) return out;
  const pick = (): number => (hot.length > 0 && r() < 0.5 ? hot[randInt(r, hot.length)]! : randInt(r, out.length));
  if (kind === 2) {
    for (let n = 1 + randInt(r, 4); n > 0; n--) {
      const at = Math.min(pick(), out.length - 1);
      out[at] = out[at]! ^ (1 << randInt(r, 8));
    }
  } else if (kind === 3) {
    const at = Math.min(pick(), out.length - 1);
    out[at] = randInt(r, 256);
  } else {
    const at = Math.min(pick(), Math.max(0, out.length - 8));
    const specials = [0n, 1n, 0xffffffffffffffffn, 1n << 53n, (1n << 53n) - 1n, 48n, 40n, BigInt(randInt(r, 1 << 30))];
    if (out.length >= at + 8) out.writeBigUInt64LE(specials[randInt(r, specials.length)]!, at);
  }
  return out;
}

/** Whether the real casync binary is available. */
export const HAVE_CASYNC = existsSync('/usr/bin/casync') || spawnSync('casync', ['--version'], { stdio: 'ignore' }).status === 0;

/** Runs casync with args, failing the test with its stderr on a non-zero exit. */
export function casync(args: string[], cwd: string): string {
  const res = spawnSync('casync', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (res.status !== 0) throw new Error(`casync ${args.join(' ')} failed (${res.status}): ${res.stderr}`);
  return res.stdout;
}

/** ~size bytes of mixed content: random, a repeated block, text-ish runs and zeros. */
export function mixedData(r: () => number, size: number): Buffer {
  const out = Buffer.alloc(size);
  const q = Math.floor(size / 4);
  randomBytesFrom(r, q).copy(out, 0);
  const block = randomBytesFrom(r, 4096);
  for (let o = q; o < 2 * q; o += 4096) block.copy(out, o, 0, Math.min(4096, 2 * q - o));
  for (let o = 2 * q; o < 3 * q; o++) out[o] = 97 + randInt(r, 4);
  return out; // last quarter stays zero
}

/** Path of a chunk in a local casync chunk store (`<4 hex>/<digest>.cacnk`, as casync writes it). */
export function casyncStorePath(digestHex: string): string {
  return `${digestHex.slice(0, 4)}/${digestHex}.cacnk`;
}
