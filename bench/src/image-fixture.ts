import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client, withRetry } from './s3-client.js';
import { runPool } from './pool.js';
import { KiB, MiB } from './units.js';
import { chunkObjectKey } from '@larder/s3';

/** Chunk store layouts Larder serves. */
export type ImageFormat = 'pbs' | 'casync';

/** One chunk of an image as stored in S3. */
export interface ChunkRef {
  offset: number;
  size: number;
  /** sha256 hex of the chunk's plain bytes. */
  digest: string;
  /** Object key in the bucket. */
  key: string;
}

/** A chunked image uploaded to S3, plus its raw bytes on local disk. */
export interface ChunkedImage {
  name: string;
  format: ImageFormat;
  bucket: string;
  /** Store prefix inside the bucket. */
  prefix: string;
  sizeBytes: number;
  /** The raw image on local disk. */
  rawPath: string;
  chunks: ChunkRef[];
}

/** Turns a chunk's plain bytes into the object stored in S3 (default: stored as is; the lead may plug real DataBlob / .cacnk encoders in). */
export type ChunkEncoder = (plain: Buffer, format: ImageFormat) => Buffer | Promise<Buffer>;

/** Write `sizeBytes` of random (incompressible, never repeating) bytes to `path`. */
export async function writeRandomImage(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const block = 8 * MiB;
    for (let off = 0; off < sizeBytes; off += block) {
      const n = Math.min(block, sizeBytes - off);
      await fh.write(randomBytes(n), 0, n, off);
    }
  } finally {
    await fh.close();
  }
}

/** Small deterministic PRNG (mulberry32) returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chunk boundaries of an image: fixed 4 MiB for pbs; for casync sizes like content-defined chunking (min 16 KiB, avg ~64 KiB, max 256 KiB). */
export function chunkSizes(format: ImageFormat, sizeBytes: number, seed = 1): number[] {
  const sizes: number[] = [];
  const rand = prng(seed);
  for (let off = 0; off < sizeBytes;) {
    let n: number;
    if (format === 'pbs') n = 4 * MiB;
    else {
      const min = 16 * KiB;
      const max = 256 * KiB;
      // Content-defined chunking gives about a geometric size beyond the minimum.
      n = Math.min(max, min + Math.round(-Math.log(1 - rand()) * 48 * KiB));
    }
    n = Math.min(n, sizeBytes - off);
    sizes.push(n);
    off += n;
  }
  return sizes;
}

/** Object key of a chunk in a store (Larder's own `chunkObjectKey`): `<prefix>/.chunks/<4hex>/<digest>` (pbs) or `<prefix>/<4hex>/<digest>.cacnk` (casync). */
export function chunkKey(format: ImageFormat, prefix: string, digest: string): string {
  return chunkObjectKey({ layout: format, prefix: prefix.replace(/\/+$/, '') }, digest);
}

/** Options of {@link uploadChunkedImage}. */
export interface UploadImageOptions {
  /** S3 endpoint to upload through (the unshaped one: uploads are setup, not measured). */
  endpoint: string;
  bucket: string;
  prefix: string;
  name: string;
  format: ImageFormat;
  rawPath: string;
  encode?: ChunkEncoder;
  concurrency?: number;
}

/** Cut the raw image into chunks of `format`, upload each chunk under its store key, and return the chunk list. */
export async function uploadChunkedImage(opts: UploadImageOptions): Promise<ChunkedImage> {
  const sizeBytes = (await stat(opts.rawPath)).size;
  const sizes = chunkSizes(opts.format, sizeBytes);
  const offsets: number[] = [];
  let o = 0;
  for (const s of sizes) {
    offsets.push(o);
    o += s;
  }
  const chunks: ChunkRef[] = new Array(sizes.length);
  const concurrency = opts.concurrency ?? 8;
  const s3 = makeS3Client(opts.endpoint, concurrency);
  const fh = await open(opts.rawPath, 'r');
  try {
    await runPool(sizes.length, concurrency, async (i) => {
      const size = sizes[i] as number;
      const offset = offsets[i] as number;
      const plain = Buffer.allocUnsafe(size);
      await fh.read(plain, 0, size, offset);
      const digest = createHash('sha256').update(plain).digest('hex');
      const key = chunkKey(opts.format, opts.prefix, digest);
      const body = opts.encode ? await opts.encode(plain, opts.format) : plain;
      await withRetry(() => s3.client.send(new PutObjectCommand({ Bucket: opts.bucket, Key: key, Body: body })));
      chunks[i] = { offset, size, digest, key };
    });
  } finally {
    await fh.close();
    s3.destroy();
  }
  return { name: opts.name, format: opts.format, bucket: opts.bucket, prefix: opts.prefix, sizeBytes, rawPath: opts.rawPath, chunks };
}

/** Upload a local file as one object (one streamed PUT; s3rver takes any size). */
export async function uploadFileObject(endpoint: string, bucket: string, key: string, path: string): Promise<void> {
  const s3 = makeS3Client(endpoint, 1);
  const size = (await stat(path)).size;
  try {
    await withRetry(() => s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(path), ContentLength: size })));
  } finally {
    s3.destroy();
  }
}
