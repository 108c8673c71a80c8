import type { ResolvedDatastore } from '@larder/config';
import { isIndexName, parseIndex } from '@larder/formats';
import { getObjectBytes, indexFolder, type RetryPolicy, type S3Client } from '@larder/s3';
import { listPages } from './chunk-listing.js';
import { DigestFileWriter } from './digest-file.js';
import { checkCancelled, GcAbort } from './gc-errors.js';

/** What the mark found: the sorted, deduplicated digest file of every chunk the datastore's indexes reference. */
export interface MarkResult {
  file: string;
  indexes: number;
  referenced: number;
}

export interface MarkOptions {
  client: S3Client;
  policy: RetryPolicy;
  /** Folder of the digest file and its runs. */
  dir: string;
  /** File name of the result (runs are `<name>.run<n>`). */
  name: string;
  runBytes?: number;
  signal: AbortSignal;
  /** Phase `listing` while the indexes are listed, then `mark` with done/total in index files. */
  progress: (phase: 'listing' | 'mark', done: number, total?: number) => void;
}

/**
 * List every index of the datastore (`<prefix>/.cnt/…` `.fidx`, `.didx`, `.caibx`), parse each and collect the digests
 * it references. Any index that cannot be read or parsed throws (`failed`): a partial mark must never be swept.
 */
export async function markDatastore(ds: ResolvedDatastore, opts: MarkOptions): Promise<MarkResult> {
  if (ds.layout === 'restic') {
    throw new GcAbort('failed', `datastore ${ds.name}: restic layout is not collected by Larder (its indexes are encrypted); run restic prune`);
  }
  const folder = indexFolder(ds);
  const keys: string[] = [];
  opts.progress('listing', 0);
  try {
    for await (const page of listPages(opts.client, ds.bucket, folder, opts.policy)) {
      for (const o of page) if (isIndexName(o.key.slice(folder.length))) keys.push(o.key);
      opts.progress('listing', keys.length);
    }
  } catch (err) {
    throw new GcAbort('failed', `listing the indexes of ${ds.name} (${folder}) failed: ${(err as Error).message}`, { cause: err });
  }
  checkCancelled(opts.signal);
  const writer = new DigestFileWriter(opts.dir, opts.name, opts.runBytes);
  let ok = false;
  try {
    for (let i = 0; i < keys.length; i++) {
      checkCancelled(opts.signal);
      opts.progress('mark', i, keys.length);
      const key = keys[i] as string;
      let bytes: Buffer;
      try {
        bytes = await getObjectBytes(opts.client, ds.bucket, key, opts.policy);
      } catch (err) {
        throw new GcAbort('failed', `index ${key} of ${ds.name} could not be read: ${(err as Error).message}`, { cause: err });
      }
      let index;
      try {
        index = parseIndex(key, bytes);
      } catch (err) {
        throw new GcAbort('failed', `index ${key} of ${ds.name} is malformed: ${(err as Error).message}`, { cause: err });
      }
      for (let c = 0; c < index.chunkCount; c++) {
        const full = writer.add(index.chunkDigestBytes(c));
        if (full) await full;
      }
    }
    opts.progress('mark', keys.length, keys.length);
    const { file, count } = await writer.finish();
    ok = true;
    return { file, indexes: keys.length, referenced: count };
  } finally {
    if (!ok) await writer.discard();
  }
}
