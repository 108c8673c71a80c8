import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { ResolvedDatastore } from '@larder/config';
import { chunkDigestOfKey, withRetry, type RetryPolicy, type S3Client } from '@larder/s3';

/** A chunk object in S3. */
export interface ChunkObject {
  key: string;
  digest: string;
  size: number;
  /** Epoch ms. */
  lastModified: number;
}

/** The folder a datastore's chunk objects lie under: pbs `<prefix>/.chunks/`, casync `<prefix>/` (its indexes sort before the shards). */
export function chunkFolder(ds: Pick<ResolvedDatastore, 'layout' | 'prefix'>): string {
  const base = ds.prefix ? `${ds.prefix}/` : '';
  return ds.layout === 'pbs' ? `${base}.chunks/` : base;
}

/**
 * The datastore's chunk objects, one LIST page at a time, in digest order (S3 lists keys in byte order, and both
 * layouts' keys are `<4 hex of the digest>/<digest>…`). Other keys under the folder are skipped. Throws when the
 * order breaks (a merge-join on an unsorted listing could delete referenced chunks).
 */
export async function* listChunkPages(client: S3Client, ds: ResolvedDatastore, policy: RetryPolicy, signal?: AbortSignal): AsyncIterable<ChunkObject[]> {
  const prefix = chunkFolder(ds);
  let token: string | undefined;
  let last = '';
  do {
    const res = await withRetry(prefix, policy, (abortSignal) =>
      client.send(new ListObjectsV2Command({ Bucket: ds.bucket, Prefix: prefix, ContinuationToken: token }), {
        abortSignal: signal ? AbortSignal.any([abortSignal, signal]) : abortSignal,
      }),
    );
    const page: ChunkObject[] = [];
    for (const o of res.Contents ?? []) {
      if (!o.Key) continue;
      const digest = chunkDigestOfKey(ds, o.Key);
      if (!digest) continue;
      if (digest <= last) throw new Error(`S3 listed chunk ${o.Key} out of digest order (after ${last})`);
      last = digest;
      page.push({ key: o.Key, digest, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? Date.now() });
    }
    yield page;
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
}
