import { createCipheriv } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runCommand } from './processes.js';
import { runPool } from './pool.js';
import { makeS3Client, withRetry } from './s3-client.js';
import { MiB } from './units.js';

/** Deterministic incompressible bytes (AES-128-CTR of zeros under a key made from `seed`), like media or encrypted files. */
function noise(seed: string, bytes: number): Buffer {
  const key = Buffer.alloc(16);
  key.write(seed.slice(0, 16));
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

/** Text that compresses like logs and source files do. */
function text(seed: number, lines: number): string {
  const words = ['cache', 'chunk', 'restore', 'backup', 'volume', 'digest', 'image', 'fetch', 'index', 'larder', 'block', 'sector'];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = (seed * 7919 + i * 104729) >>> 0;
    out.push(`${String(i).padStart(7, '0')} ${words[n % words.length]} ${words[(n >>> 4) % words.length]} ${n.toString(16)}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * A realistic filesystem image, the same for the same size: an ext4 filesystem made with `mkfs.ext4 -d` from a
 * fixed tree — log files (compressible), media files (incompressible), three copies of one file (repeated
 * chunks) — about half used, the rest free space (zeros).
 */
export async function makeExt4Image(outFile: string, sizeBytes: number): Promise<void> {
  const tree = await mkdtemp(`${outFile}.tree-`);
  try {
    const sizeMiB = Math.max(8, Math.floor(sizeBytes / MiB));
    await mkdir(join(tree, 'etc'), { recursive: true });
    await mkdir(join(tree, 'var/log'), { recursive: true });
    await mkdir(join(tree, 'srv/media'), { recursive: true });
    await mkdir(join(tree, 'home/demo'), { recursive: true });
    await writeFile(join(tree, 'etc/hostname'), 'larder-bench\n');
    for (let i = 0; i < 8; i++) await writeFile(join(tree, `var/log/app.${i}.log`), text(i, sizeMiB * 250));
    const unit = Math.floor((sizeMiB * MiB) / 12);
    for (let i = 0; i < 3; i++) await writeFile(join(tree, `srv/media/video-${i}.bin`), noise(`media-${i}`, unit));
    const shared = noise('shared', Math.floor(unit * 0.75));
    for (let i = 0; i < 3; i++) await writeFile(join(tree, `home/demo/copy-${i}.img`), shared);
    await rm(outFile, { force: true });
    // A journal takes at least 4 MiB: tiny test images (under 64 MiB) go without one so that the tree fits.
    const journal = sizeMiB < 64 ? ['-O', '^has_journal'] : [];
    const r = await runCommand('mkfs.ext4', ['-q', '-F', '-b', '4096', ...journal, '-E', 'root_owner=0:0', '-d', tree, outFile, String(sizeMiB * 256)], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`mkfs.ext4 failed: ${r.stderr.trim()}`);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/** A casync chunk store and its index, made with `casync make` and uploaded to S3 under `prefix`. */
export interface CasyncStoreFixture {
  image: string;
  sizeBytes: number;
  /** The .caibx on local disk. */
  index: string;
  prefix: string;
  /** Chunk files in the store. */
  chunks: number;
  /** Bytes of the chunk files (zstd frames). */
  storeBytes: number;
}

/**
 * `casync make` (default settings: SHA-512/256, ~64 KiB chunks) of `image` into a local store, then upload every
 * chunk to `bucket` under `prefix/<4 hex>/<digest>.cacnk` and the index to `prefix/.cnt/<indexName>` (where Larder
 * finds indexes), through `endpoint` (the unshaped one: uploads are setup).
 */
export async function casyncStoreInS3(opts: {
  workDir: string;
  image: string;
  sizeBytes: number;
  endpoint: string;
  bucket: string;
  prefix: string;
  indexName: string;
}): Promise<CasyncStoreFixture> {
  const store = join(opts.workDir, 'castr');
  const index = join(opts.workDir, opts.indexName);
  await rm(store, { recursive: true, force: true });
  const made = await runCommand('casync', ['make', `--store=${store}`, index, opts.image], { timeoutMs: 600_000 });
  if (made.code !== 0) throw new Error(`casync make failed: ${made.stderr.trim()}`);
  const files = (await readdir(store, { recursive: true, withFileTypes: true })).filter((e) => e.isFile() && e.name.endsWith('.cacnk')).map((e) => join(e.parentPath, e.name));
  const s3 = makeS3Client(opts.endpoint, 16);
  let storeBytes = 0;
  try {
    await runPool(files.length, 16, async (i) => {
      const file = files[i] as string;
      const body = await readFile(file);
      storeBytes += body.length;
      await withRetry(() => s3.client.send(new PutObjectCommand({ Bucket: opts.bucket, Key: `${opts.prefix}/${relative(store, file)}`, Body: body })));
    });
    const body = await readFile(index);
    await withRetry(() => s3.client.send(new PutObjectCommand({ Bucket: opts.bucket, Key: `${opts.prefix}/.cnt/${opts.indexName}`, Body: body })));
  } finally {
    s3.destroy();
  }
  return { image: opts.image, sizeBytes: opts.sizeBytes, index, prefix: opts.prefix, chunks: files.length, storeBytes };
}
