import type { ResolvedDatastore } from '@larder/config';
import { isIndexName } from '@larder/formats';
import { indexFolder, listObjects, s3ClientFor } from '@larder/s3';

/** An index object in a datastore: an image's name (its index file's path under `.cnt/`) and the index's size. */
export interface ImageEntry {
  name: string;
  indexBytes: number;
}

/** The index files (images) a datastore holds. */
export async function listImageIndexes(ds: ResolvedDatastore): Promise<ImageEntry[]> {
  const folder = indexFolder(ds);
  const out: ImageEntry[] = [];
  for await (const o of listObjects(s3ClientFor(ds), ds.bucket, folder)) {
    const name = o.key.slice(folder.length);
    if (isIndexName(name)) out.push({ name, indexBytes: o.size });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
