import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startWanS3 } from './wan-s3.js';
import type { WanS3 } from './wan-s3.js';
import { uploadChunkedImage, uploadFileObject, writeRandomImage } from './image-fixture.js';
import type { ChunkEncoder, ChunkedImage, ImageFormat } from './image-fixture.js';
import type { LarderHook } from './larder-hook.js';
import type { LinkSpec } from './link.js';
import { makeS3Client, withRetry } from './s3-client.js';
import { objectUrl } from './s3-gets.js';
import { runPool } from './pool.js';

/** The bucket every fixture lives in. */
export const BENCH_BUCKET = 'larder-bench';

/** The data every scenario shares: one raw image, chunked twice, in S3 behind the WAN link. */
export interface Fixtures {
  /** The embedded S3 behind the WAN proxy. */
  s3: WanS3;
  bucket: string;
  /** The raw image on local disk and as one S3 object. */
  raw: { path: string; sizeBytes: number; key: string; /** URL through the WAN proxy (s3rver allows anonymous GETs). */ url: string };
  /** The image as a pbs store (4 MiB chunks) and as a casync store (~64 KiB chunks). */
  images: Record<ImageFormat, ChunkedImage>;
  /** A directory holding every chunk of `format` as a file at its store path (for nginx), made on first call. */
  chunkFiles(format: ImageFormat): Promise<string>;
}

/** Options of {@link createFixtures}. */
export interface FixtureOptions {
  workDir: string;
  imageBytes: number;
  link: LinkSpec;
  larder: LarderHook | undefined;
  log(message: string): void;
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

/** Start the WAN S3, write a random raw image, upload it whole and as pbs and casync chunk stores. */
export async function createFixtures(opts: FixtureOptions): Promise<Fixtures> {
  const s3 = await startWanS3({ directory: join(opts.workDir, 's3'), buckets: [BENCH_BUCKET], link: opts.link });
  try {
    const rawPath = join(opts.workDir, 'image.raw');
    opts.log(`fixtures: writing a ${opts.imageBytes} byte random image`);
    await writeRandomImage(rawPath, opts.imageBytes);
    const rawKey = 'raw/image.raw';
    opts.log('fixtures: uploading the raw image as one object');
    await uploadFileObject(s3.directEndpoint, BENCH_BUCKET, rawKey, rawPath);
    const images = {} as Record<ImageFormat, ChunkedImage>;
    const put = async (key: string, body: Buffer) => {
      const c = makeS3Client(s3.directEndpoint, 1);
      try {
        await withRetry(() => c.client.send(new PutObjectCommand({ Bucket: BENCH_BUCKET, Key: key, Body: body })));
      } finally {
        c.destroy();
      }
    };
    for (const format of ['pbs', 'casync'] as const) {
      opts.log(`fixtures: uploading the ${format} chunk store`);
      const image = await uploadChunkedImage({
        endpoint: s3.directEndpoint,
        bucket: BENCH_BUCKET,
        prefix: `stores/${format}`,
        name: `image-${format}`,
        format,
        rawPath,
        ...(opts.larder?.encodeChunk ? { encode: opts.larder.encodeChunk } : {}),
        concurrency: format === 'casync' ? 16 : 8,
      });
      if (opts.larder?.writeIndex) await opts.larder.writeIndex(image, put);
      images[format] = image;
    }
    const chunkDirs = new Map<ImageFormat, Promise<string>>();
    return {
      s3,
      bucket: BENCH_BUCKET,
      raw: { path: rawPath, sizeBytes: opts.imageBytes, key: rawKey, url: objectUrl(s3.endpoint, BENCH_BUCKET, rawKey) },
      images,
      chunkFiles: (format) => {
        let p = chunkDirs.get(format);
        if (!p) {
          const root = join(opts.workDir, 'chunk-files', format);
          p = writeChunkFiles(images[format], root, opts.larder?.encodeChunk).then(() => root);
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
