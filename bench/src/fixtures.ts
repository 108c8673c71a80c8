import { createHash } from 'node:crypto';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startWanS3 } from './wan-s3.js';
import type { WanS3 } from './wan-s3.js';
import { uploadChunkedImage, uploadFileObject, writeRandomImage } from './image-fixture.js';
import type { ChunkEncoder, ChunkedImage, ImageFormat } from './image-fixture.js';
import type { LarderHook } from './larder-hook.js';
import type { LinkSpec } from './link.js';
import { objectPutter } from './s3-client.js';
import { objectUrl } from './s3-gets.js';
import { runPool } from './pool.js';

/** The bucket every fixture lives in. */
export const BENCH_BUCKET = 'larder-bench';

/** Which test image: a realistic ext4 filesystem (the main case) or random bytes (incompressible, the second case). */
export type ImageKind = 'ext4' | 'random';

/** How the stored chunks of an image compare with its bytes. */
export interface ImageStats {
  /** Share of the image's 4 KiB blocks that are all zeros (free space). */
  zeroShare: number;
  /** Per format: bytes of the distinct chunk objects as stored in S3 (pbs DataBlobs, casync .cacnk), and their count. */
  stored: Record<
    ImageFormat,
    {
      bytes: number;
      chunks: number;
      distinct: number;
    }
  >;
}

/** One test image: raw on local disk and as one S3 object, and chunked as a pbs and a casync store. */
export interface ImageSet {
  kind: ImageKind;
  /** Case label prefix, e.g. `ext4 image`. */
  label: string;
  /** The raw image on local disk and as one S3 object. */
  raw: { path: string; sizeBytes: number; key: string; /** URL through the WAN proxy (s3rver allows anonymous GETs). */ url: string };
  /** The image as a pbs store (4 MiB chunks) and as a casync store (~64 KiB chunks). */
  images: Record<ImageFormat, ChunkedImage>;
  stats: ImageStats;
}

/** The data every scenario shares: one random image (made at start) and one ext4 image (made on first use), each chunked twice, in S3 behind the WAN link. */
export interface Fixtures {
  /** The embedded S3 behind the WAN proxy. */
  s3: WanS3;
  bucket: string;
  /** The random image (same as `random.raw`). */
  raw: ImageSet['raw'];
  /** The random image's stores (same as `random.images`). */
  images: Record<ImageFormat, ChunkedImage>;
  random: ImageSet;
  /** The realistic ext4 image and its stores, made and uploaded once per run on first call. */
  ext4(): Promise<ImageSet>;
  /** Every chunked image uploaded so far (a Larder stack gets a datastore for each). */
  builtImages(): ChunkedImage[];
  /** A directory holding every chunk of `format` as a file at its store path (for nginx), made on first call. */
  chunkFiles(format: ImageFormat): Promise<string>;
}

/** Options of {@link createFixtures}. */
export interface FixtureOptions {
  workDir: string;
  imageBytes: number;
  link: LinkSpec;
  larder: LarderHook | undefined;
  /** Path of the run's ext4 image (made once, shared with the scenarios that run `casync make` on it). */
  ext4Image(): Promise<string>;
  log(message: string): void;
}

/** Share of all-zero 4 KiB blocks of a file. */
async function zeroShare(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(8 * 2 ** 20);
    const zero = Buffer.alloc(4096);
    let blocks = 0;
    let zeros = 0;
    for (let pos = 0; ;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      for (let o = 0; o < bytesRead; o += 4096) {
        const b = buf.subarray(o, Math.min(o + 4096, bytesRead));
        blocks++;
        if (b.equals(zero.subarray(0, b.length))) zeros++;
      }
      pos += bytesRead;
    }
    return blocks ? zeros / blocks : 0;
  } finally {
    await fh.close();
  }
}

/** Write every chunk of `image` as a file under `root` at its object key (encoded like the S3 object when `encode` is given). */
export async function writeChunkFiles(image: ChunkedImage, root: string, encode?: ChunkEncoder): Promise<void> {
  const fh = await open(image.rawPath, 'r');
  try {
    const dirs = new Set(image.chunks.map((c) => dirname(join(root, c.key))));
    for (const d of dirs) await mkdir(d, { recursive: true });
    await runPool(image.chunks.length, 8, async (i) => {
      const c = image.chunks[i];
      if (!c) return;
      const buf = Buffer.allocUnsafe(c.size);
      await fh.read(buf, 0, c.size, c.offset);
      const body = encode ? await encode(buf, image.format) : buf;
      const out = await open(join(root, c.key), 'w');
      try {
        await out.write(body);
      } finally {
        await out.close();
      }
    });
  } finally {
    await fh.close();
  }
}

/** Upload `rawPath` whole and as pbs and casync stores under `stores/<name>-<format>`; the chunk stats with it. */
async function uploadImageSet(opts: FixtureOptions, s3: WanS3, kind: ImageKind, rawPath: string, storePrefix: string): Promise<ImageSet> {
  const sizeBytes = (await stat(rawPath)).size;
  const rawKey = `raw/${kind}.raw`;
  opts.log(`fixtures: uploading the ${kind} image as one object`);
  await uploadFileObject(s3.directEndpoint, BENCH_BUCKET, rawKey, rawPath);
  const images = {} as Record<ImageFormat, ChunkedImage>;
  const stored = {} as ImageStats['stored'];
  const put = objectPutter(s3.directEndpoint, BENCH_BUCKET);
  for (const format of ['pbs', 'casync'] as const) {
    opts.log(`fixtures: uploading the ${kind} image's ${format} chunk store`);
    const sizes = new Map<string, number>();
    const encode = opts.larder?.encodeChunk;
    const image = await uploadChunkedImage({
      endpoint: s3.directEndpoint,
      bucket: BENCH_BUCKET,
      prefix: `${storePrefix}${format}`,
      name: `${kind === 'random' ? 'image' : kind}-${format}`,
      format,
      rawPath,
      // Counts the stored size of every distinct object (repeated chunks are one object).
      encode: async (plain, f) => {
        const body = encode ? await encode(plain, f) : plain;
        sizes.set(createHash('sha256').update(plain).digest('hex'), body.length);
        return body;
      },
      concurrency: format === 'casync' ? 16 : 8,
    });
    if (opts.larder?.writeIndex) await opts.larder.writeIndex(image, put);
    images[format] = image;
    stored[format] = { bytes: [...sizes.values()].reduce((a, b) => a + b, 0), chunks: image.chunks.length, distinct: sizes.size };
  }
  const stats: ImageStats = { zeroShare: await zeroShare(rawPath), stored };
  return {
    kind,
    label: kind === 'ext4' ? 'ext4 image' : 'random image',
    raw: { path: rawPath, sizeBytes, key: rawKey, url: objectUrl(s3.endpoint, BENCH_BUCKET, rawKey) },
    images,
    stats,
  };
}

/** Start the WAN S3, write a random raw image, upload it whole and as pbs and casync chunk stores; the ext4 image follows on first use. */
export async function createFixtures(opts: FixtureOptions): Promise<Fixtures> {
  const s3 = await startWanS3({ directory: join(opts.workDir, 's3'), buckets: [BENCH_BUCKET], link: opts.link });
  try {
    const rawPath = join(opts.workDir, 'image.raw');
    opts.log(`fixtures: writing a ${opts.imageBytes} byte random image`);
    await writeRandomImage(rawPath, opts.imageBytes);
    const random = await uploadImageSet(opts, s3, 'random', rawPath, 'stores/');
    let ext4: ImageSet | undefined;
    let ext4Made: Promise<ImageSet> | undefined;
    const chunkDirs = new Map<string, Promise<string>>();
    return {
      s3,
      bucket: BENCH_BUCKET,
      raw: random.raw,
      images: random.images,
      random,
      ext4: () =>
        (ext4Made ??= opts.ext4Image().then(async (path) => {
          ext4 = await uploadImageSet(opts, s3, 'ext4', path, 'stores/ext4-');
          return ext4;
        })),
      builtImages: () => [...Object.values(random.images), ...(ext4 ? Object.values(ext4.images) : [])],
      chunkFiles: (format) => {
        let p = chunkDirs.get(format);
        if (!p) {
          const root = join(opts.workDir, 'chunk-files', format);
          p = writeChunkFiles(random.images[format], root, opts.larder?.encodeChunk).then(() => root);
          chunkDirs.set(format, p);
        }
        return p;
      },
    };
  } catch (err) {
    await s3.stop();
    throw err;
  }
}
