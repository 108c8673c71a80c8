import { createHash } from 'node:crypto';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestFromHex, encodeDataBlob, writeFixedIndex, zeroChunkDigest } from '@larder/formats';

/** PBS's chunk size for fixed-index (`.fidx`) image backups. */
export const PBS_FIXED_CHUNK = 4 * 2 ** 20;

/** One distinct chunk of the image, encoded as the DataBlob PBS would upload, kept as a file. */
export interface PbsBlob {
  digest: string;
  /** The DataBlob on local disk. */
  file: string;
  bytes: number;
}

/** A disk image chunked and encoded as a PBS backup client does, ready to upload. */
export interface PbsBackupSource {
  image: string;
  sizeBytes: number;
  /** Chunks in the index (one per 4 MiB of the image). */
  chunks: number;
  /** Distinct chunks, each uploaded once per backup (repeats and zero chunks included once). */
  blobs: PbsBlob[];
  /** Bytes of every distinct blob. */
  blobBytes: number;
  /** Index positions that are all zeros (one zero chunk stands for every one of them). */
  zeroChunks: number;
  /** The `.fidx` of the image. */
  fidx: Buffer;
  /** How long chunking, hashing and zstd encoding took (not part of an upload: PBS's client does it). */
  encodeMs: number;
}

/**
 * Cut `image` into 4 MiB chunks, name each by SHA-256 of its plain bytes and encode it as a zstd DataBlob (plain
 * where zstd does not shrink it), as `proxmox-backup-client` does for a `.fidx` image backup; each distinct chunk
 * is written once under `dir` and the index is built.
 */
export async function encodePbsBackup(image: string, dir: string): Promise<PbsBackupSource> {
  const t0 = performance.now();
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const fh = await open(image, 'r');
  try {
    const sizeBytes = (await fh.stat()).size;
    const chunks = Math.ceil(sizeBytes / PBS_FIXED_CHUNK);
    const digests: string[] = [];
    const blobs: PbsBlob[] = [];
    const seen = new Set<string>();
    let blobBytes = 0;
    let zeroChunks = 0;
    const buf = Buffer.allocUnsafe(PBS_FIXED_CHUNK);
    for (let i = 0; i < chunks; i++) {
      const len = Math.min(PBS_FIXED_CHUNK, sizeBytes - i * PBS_FIXED_CHUNK);
      const { bytesRead } = await fh.read(buf, 0, len, i * PBS_FIXED_CHUNK);
      if (bytesRead !== len) throw new Error(`${image}: short read at chunk ${i}`);
      const plain = buf.subarray(0, len);
      const digest = createHash('sha256').update(plain).digest('hex');
      digests.push(digest);
      if (digest === zeroChunkDigest('sha256', len)) zeroChunks++;
      if (seen.has(digest)) continue;
      seen.add(digest);
      const blob = encodeDataBlob(plain);
      const file = join(dir, digest);
      await writeFile(file, blob);
      blobs.push({ digest, file, bytes: blob.length });
      blobBytes += blob.length;
    }
    const fidx = writeFixedIndex({ size: sizeBytes, chunkSize: PBS_FIXED_CHUNK, digests: digests.map(digestFromHex) });
    return { image, sizeBytes, chunks, blobs, blobBytes, zeroChunks, fidx, encodeMs: performance.now() - t0 };
  } finally {
    await fh.close();
  }
}
