import { open } from 'node:fs/promises';
import type { ResolvedDatastore } from '@larder/config';
import { digest, encodeDataBlob, writeFixedIndex } from '@larder/formats';
import { chunkObjectKey, headObjectSize, indexObjectKey, isSafeObjectName, putObjectBytes, s3ClientFor } from '@larder/s3';
import { asWriter, ownedWrites, touchChunk, type OwnedWrites } from './owned-writes.js';
import { forEachLimit } from './pool.js';

/** What an import did: chunks in the image, how many were new, and the bytes it had to upload of the total. */
export interface ImportReport {
  image: string;
  size: number;
  chunkSize: number;
  chunks: number;
  uniqueChunks: number;
  uploadedChunks: number;
  uploadedBytes: number;
  storedBytes: number;
}

/** Progress of an import, reported after each chunk. */
export type ImportProgress = (done: { chunks: number; of: number; bytes: number }) => void;

/** The index name an image gets: its name with `.fidx` added unless it already names an index file. */
export function fixedIndexName(name: string): string {
  return /\.(fidx|didx|caibx)$/.test(name) ? name : `${name}.fidx`;
}

/**
 * Import a raw disk image into a pbs-layout datastore: fixed chunks stored as zstd DataBlobs (plain where zstd
 * does not shrink them) under the datastore's digest (`ds.digest`), chunks already in S3 skipped, then the
 * `.fidx` index written last. Into an owned datastore it writes as a registered writer and touches every chunk first
 * (the GC protocol, `owned`; required then).
 */
export async function importRawImage(opts: {
  ds: ResolvedDatastore;
  file: string;
  name: string;
  chunkSize?: number;
  concurrency?: number;
  onProgress?: ImportProgress;
  owned?: OwnedWrites;
}): Promise<ImportReport> {
  const { ds } = opts;
  const owned = ownedWrites(ds, opts.owned);
  if (ds.layout !== 'pbs') throw new Error(`datastore ${ds.name} has the ${ds.layout} layout; import writes pbs images (use push-casync for casync stores)`);
  const image = fixedIndexName(opts.name);
  if (!isSafeObjectName(image) || !image.endsWith('.fidx'))
    throw new Error(`bad image name ${JSON.stringify(opts.name)}: use a relative path without . or .. segments, ending in .fidx or without extension`);
  const chunkSize = opts.chunkSize ?? 4 * 2 ** 20;
  if (chunkSize <= 0 || (chunkSize & (chunkSize - 1)) !== 0) throw new Error(`chunk size must be a power of two, got ${chunkSize}`);
  const client = s3ClientFor(ds);
  return asWriter(ds, owned, `import ${image}`, () => importChunks(opts, image, chunkSize, client, owned));
}

async function importChunks(
  opts: { ds: ResolvedDatastore; file: string; concurrency?: number; onProgress?: ImportProgress },
  image: string,
  chunkSize: number,
  client: ReturnType<typeof s3ClientFor>,
  owned: OwnedWrites | undefined,
): Promise<ImportReport> {
  const { ds } = opts;
  const fh = await open(opts.file, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size === 0) throw new Error(`${opts.file} is empty: nothing to import`);
    const count = Math.ceil(size / chunkSize);
    const digests: Buffer[] = new Array(count);
    const seen = new Set<string>();
    const report: ImportReport = { image, size, chunkSize, chunks: count, uniqueChunks: 0, uploadedChunks: 0, uploadedBytes: 0, storedBytes: 0 };
    let done = 0;
    await forEachLimit(range(count), opts.concurrency ?? 8, async (i) => {
      const len = Math.min(chunkSize, size - i * chunkSize);
      const buf = Buffer.allocUnsafe(len);
      const { bytesRead } = await fh.read(buf, 0, len, i * chunkSize);
      if (bytesRead !== len) throw new Error(`${opts.file} changed during import (short read at chunk ${i})`);
      const d = digest(ds.digest, buf);
      digests[i] = d;
      const hex = d.toString('hex');
      if (!seen.has(hex)) {
        seen.add(hex);
        report.uniqueChunks++;
        const key = chunkObjectKey(ds, hex);
        const blob = encodeDataBlob(buf);
        if (owned && (await touchChunk(ds, owned, hex)) === 'known') {
          report.storedBytes += blob.byteLength;
        } else {
          const existing = await headObjectSize(client, ds.bucket, key);
          report.storedBytes += existing ?? blob.byteLength;
          if (existing === undefined) {
            await putObjectBytes(client, ds.bucket, key, blob);
            report.uploadedChunks++;
            report.uploadedBytes += blob.byteLength;
          }
          await owned?.known.record(ds.name, [hex]);
        }
      }
      opts.onProgress?.({ chunks: ++done, of: count, bytes: Math.min(size, done * chunkSize) });
    });
    const index = writeFixedIndex({ size, chunkSize, digests });
    await putObjectBytes(client, ds.bucket, indexObjectKey(ds, image), index);
    return report;
  } finally {
    await fh.close();
  }
}

function* range(n: number): Iterable<number> {
  for (let i = 0; i < n; i++) yield i;
}
