import { createRequire } from 'node:module';
import { asBuffer } from './bytes.js';
import { FormatError } from './errors.js';
import { DEFAULT_MAX_DECODED_SIZE } from './limits.js';

type ZstdModule = typeof import('zstd-napi');
type ZstdBinding = typeof import('zstd-napi/binding.js');

const require = createRequire(import.meta.url);
const zstd = require('zstd-napi') as ZstdModule;
const binding = require('zstd-napi/binding.js') as ZstdBinding;

/** The 4-byte zstd frame magic (28 b5 2f fd). */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

const compressors = new Map<number, InstanceType<ZstdModule['Compressor']>>();
let dctx: InstanceType<ZstdBinding['DCtx']> | undefined;

/** Compresses data into one zstd frame (default level 1) that records its content size. */
export function zstdCompress(data: Uint8Array, level = 1): Buffer {
  if (!Number.isInteger(level) || level < binding.minCLevel() || level > binding.maxCLevel()) {
    throw new FormatError('invalid-argument', `zstd: compression level ${level} is outside [${binding.minCLevel()}, ${binding.maxCLevel()}]`);
  }
  let c = compressors.get(level);
  if (c === undefined) {
    c = new zstd.Compressor();
    c.setParameters({ compressionLevel: level });
    compressors.set(level, c);
  }
  return c.compress(asBuffer(data));
}

/**
 * Decompresses one or more zstd frames, with or without a recorded content size
 * (casync and PBS write streaming frames without one). Refuses output larger than
 * maxSize ('zstd-too-large'); truncated or corrupt input gives 'zstd-corrupt'.
 */
export function zstdDecompress(frame: Uint8Array, maxSize: number = DEFAULT_MAX_DECODED_SIZE): Buffer {
  const input = asBuffer(frame);
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new FormatError('invalid-argument', `zstd: maxSize must be a non-negative integer, got ${maxSize}`);
  }
  if (input.length === 0) throw new FormatError('zstd-corrupt', 'zstd: input is empty');
  const declared = declaredSize(input);
  if (declared !== null && declared > maxSize) {
    throw tooLarge(`frame header declares ${declared} bytes`, maxSize);
  }
  dctx ??= new binding.DCtx();
  dctx.reset(binding.ResetDirective.sessionOnly);
  try {
    return run(dctx, input, declared, maxSize);
  } catch (err) {
    dctx.reset(binding.ResetDirective.sessionOnly);
    if (err instanceof FormatError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new FormatError('zstd-corrupt', `zstd: corrupt input (${input.length} bytes): ${msg}`, { cause: err });
  }
}

function run(ctx: InstanceType<ZstdBinding['DCtx']>, input: Buffer, declared: number | null, maxSize: number): Buffer {
  const limit = maxSize + 1; // one byte past the limit tells "too large" apart from "exactly full"
  let out = Buffer.allocUnsafe(Math.min(declared ?? Math.max(128 * 1024, input.length * 4), limit));
  let pos = 0;
  let src = input;
  for (;;) {
    const [ret, produced, consumed] = ctx.decompressStream(out.subarray(pos), src);
    pos += produced;
    src = src.subarray(consumed);
    if (pos > maxSize) throw tooLarge(`output exceeds the limit`, maxSize);
    if (src.length === 0 && ret === 0) {
      if (pos === out.length) return out;
      // Frames without a recorded size were decoded into a guess (up to 4× the input): give callers that keep
      // the result (the gateway's decoded-chunk cache counts its length) a buffer of its size, not a view
      // that holds on to the whole guess.
      return out.length - pos > out.length / 8 ? Buffer.from(out.subarray(0, pos)) : out.subarray(0, pos);
    }
    if (pos === out.length) {
      const bigger = Buffer.allocUnsafe(Math.min(Math.max(out.length * 2, 64 * 1024), limit));
      out.copy(bigger, 0, 0, pos);
      out = bigger;
      continue;
    }
    if (src.length === 0) {
      throw new FormatError('zstd-corrupt', `zstd: truncated frame (${input.length} bytes of input ended mid-frame after ${pos} bytes of output)`);
    }
    if (produced === 0 && consumed === 0) {
      throw new FormatError('zstd-corrupt', `zstd: decoder made no progress at input byte ${input.length - src.length}`);
    }
  }
}

function declaredSize(input: Buffer): number | null {
  try {
    return binding.getFrameContentSize(input);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new FormatError('zstd-corrupt', `zstd: not a zstd frame (starts with ${input.subarray(0, 4).toString('hex')}): ${msg}`, { cause: err });
  }
}

function tooLarge(what: string, maxSize: number): FormatError {
  return new FormatError('zstd-too-large', `zstd: ${what}, more than the ${maxSize}-byte limit`);
}
