import { ListObjectsCommand } from '@aws-sdk/client-s3';
import type { ResolvedDatastore } from '@larder/config';
import { chunkDigestOfKey, withRetry, type RetryPolicy, type S3Client } from '@larder/s3';

/** An object in S3, as a LIST names it. */
export interface ListedObject {
  key: string;
  size: number;
  /** Epoch ms. */
  lastModified: number;
}

/** A chunk object in S3. */
export interface ChunkObject extends ListedObject {
  digest: string;
}

/** The folder a datastore's chunk objects lie under: pbs `<prefix>/.chunks/`, casync `<prefix>/` (its indexes sort before the shards). */
export function chunkFolder(ds: Pick<ResolvedDatastore, 'layout' | 'prefix'>): string {
  const base = ds.prefix ? `${ds.prefix}/` : '';
  return ds.layout === 'pbs' ? `${base}.chunks/` : base;
}

/**
 * Every object under `prefix`, one LIST page (up to 1000 keys) at a time, in key order. ListObjects (v1) paged by
 * Marker = the last key seen: every S3 serves it, older S3-compatible servers among them.
 */
export async function* listPages(client: S3Client, bucket: string, prefix: string, policy: RetryPolicy): AsyncIterable<ListedObject[]> {
  let marker: string | undefined;
  for (;;) {
    const res = await withRetry(prefix, policy, (abortSignal) => client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker }), { abortSignal }));
    const page: ListedObject[] = [];
    for (const o of res.Contents ?? []) {
      if (o.Key) page.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? Date.now() });
    }
    yield page;
    const last = res.NextMarker ?? page.at(-1)?.key;
    if (!res.IsTruncated || !last || last === marker) return;
    marker = last;
  }
}

/**
 * The datastore's chunk objects, one LIST page at a time, in digest order (S3 lists keys in byte order, and both
 * layouts' keys are `<4 hex of the digest>/<digest>…`). Other keys under the folder are skipped. Throws when the
 * order breaks (a merge-join on an unsorted listing could delete referenced chunks).
 */
export async function* listChunkPages(client: S3Client, ds: ResolvedDatastore, policy: RetryPolicy): AsyncIterable<ChunkObject[]> {
  let last = '';
  for await (const objects of listPages(client, ds.bucket, chunkFolder(ds), policy)) {
    const page: ChunkObject[] = [];
    for (const o of objects) {
      const digest = chunkDigestOfKey(ds, o.key);
      if (!digest) continue;
      if (digest <= last) throw new Error(`S3 listed chunk ${o.key} out of digest order (after ${last})`);
      last = digest;
      page.push({ ...o, digest });
    }
    yield page;
  }
}
