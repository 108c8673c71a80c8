import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedDatastore } from '@larder/config';
import { decodeAndVerifyChunk, parseCaibx } from '@larder/formats';
import { chunkObjectKey, headObjectSize, indexObjectKey, isSafeObjectName, putObjectBytes, s3ClientFor } from '@larder/s3';
import { asWriter, ownedWrites, touchChunk, type OwnedWrites } from './owned-writes.js';
import { forEachLimit } from './pool.js';

/** What a push did. */
export interface PushReport {
  chunks: number;
  uploadedChunks: number;
  uploadedBytes: number;
  indexes: string[];
}

const CHUNK_FILE = /^([0-9a-f]{64})\.cacnk$/;

async function* chunkFiles(storeDir: string): AsyncIterable<{ file: string; digest: string }> {
  const shards = await readdir(storeDir, { withFileTypes: true }).catch((err: Error) => {
    throw new Error(`cannot read casync store ${storeDir}: ${err.message}`, { cause: err });
  });
  for (const shard of shards) {
    if (!shard.isDirectory() || !/^[0-9a-f]{4}$/.test(shard.name)) continue;
    for (const f of await readdir(path.join(storeDir, shard.name))) {
      const m = CHUNK_FILE.exec(f);
      if (!m) continue;
      const digest = m[1] as string;
      if (!digest.startsWith(shard.name)) throw new Error(`casync store ${storeDir}: ${shard.name}/${f} is in the wrong folder`);
      yield { file: path.join(storeDir, shard.name, f), digest };
    }
  }
}

/**
 * Upload a casync chunk store (and its .caibx index files) into a casync-layout datastore. Every chunk is
 * decoded and its digest checked before upload; chunks already in S3 are skipped; indexes go last. Into an owned
 * datastore it writes as a registered writer and touches every chunk first (the GC protocol, `owned`; required then).
 */
export async function pushCasyncStore(opts: {
  ds: ResolvedDatastore;
  storeDir: string;
  indexes?: string[];
  concurrency?: number;
  onProgress?: (done: { chunks: number; uploaded: number }) => void;
  owned?: OwnedWrites;
}): Promise<PushReport> {
  const { ds } = opts;
  const owned = ownedWrites(ds, opts.owned);
  if (ds.layout !== 'casync') throw new Error(`datastore ${ds.name} has the ${ds.layout} layout; push-casync needs a casync datastore`);
  const indexes = await Promise.all(
    (opts.indexes ?? []).map(async (file) => {
      const name = path.basename(file);
      if (!name.endsWith('.caibx') || !isSafeObjectName(name)) throw new Error(`${file}: index files must end in .caibx`);
      const bytes = await readFile(file);
      parseCaibx(bytes); // refuse a malformed index before uploading anything
      return { name, bytes };
    }),
  );
  const client = s3ClientFor(ds);
  const report: PushReport = { chunks: 0, uploadedChunks: 0, uploadedBytes: 0, indexes: [] };
  return asWriter(ds, owned, 'push-casync', async () => {
    await forEachLimit(chunkFiles(opts.storeDir), opts.concurrency ?? 16, async ({ file, digest }) => {
      const bytes = await readFile(file);
      try {
        decodeAndVerifyChunk('casync', digest, bytes, ds.digest);
      } catch (err) {
        throw new Error(`${file}: not a valid casync chunk: ${(err as Error).message}`, { cause: err });
      }
      const key = chunkObjectKey(ds, digest);
      report.chunks++;
      if (!owned || (await touchChunk(ds, owned, digest)) === 'upload') {
        if ((await headObjectSize(client, ds.bucket, key)) === undefined) {
          await putObjectBytes(client, ds.bucket, key, bytes);
          report.uploadedChunks++;
          report.uploadedBytes += bytes.byteLength;
        }
        await owned?.known.record(ds.name, [digest]);
      }
      opts.onProgress?.({ chunks: report.chunks, uploaded: report.uploadedChunks });
    });
    for (const idx of indexes) {
      await putObjectBytes(client, ds.bucket, indexObjectKey(ds, idx.name), idx.bytes);
      report.indexes.push(idx.name);
    }
    return report;
  });
}
