import type { ResolvedDatastore } from '@larder/config';

function join(prefix: string, rest: string): string {
  return prefix ? `${prefix}/${rest}` : rest;
}

/** S3 key of a chunk object: pbs `<prefix>/.chunks/<4 hex>/<digest>`, casync `<prefix>/<4 hex>/<digest>.cacnk`, restic `<prefix>/data/<2 hex>/<digest>`. */
export function chunkObjectKey(ds: Pick<ResolvedDatastore, 'layout' | 'prefix'>, digest: string): string {
  if (ds.layout === 'restic') return join(ds.prefix, `data/${digest.slice(0, 2)}/${digest}`);
  const shard = digest.slice(0, 4);
  return ds.layout === 'pbs' ? join(ds.prefix, `.chunks/${shard}/${digest}`) : join(ds.prefix, `${shard}/${digest}.cacnk`);
}

/** The layout's chunk object keys (prefix removed), each capturing its shard and digest. */
const CHUNK_KEY: Record<ResolvedDatastore['layout'], RegExp> = {
  pbs: /^\.chunks\/([0-9a-f]{4})\/([0-9a-f]{64})$/,
  casync: /^([0-9a-f]{4})\/([0-9a-f]{64})\.cacnk$/,
  restic: /^data\/([0-9a-f]{2})\/([0-9a-f]{64})$/,
};

/** The digest of a chunk object key ({@link chunkObjectKey}'s inverse), or undefined for any other key of the datastore. */
export function chunkDigestOfKey(ds: Pick<ResolvedDatastore, 'layout' | 'prefix'>, key: string): string | undefined {
  let rest = key;
  if (ds.prefix) {
    if (!key.startsWith(`${ds.prefix}/`)) return undefined;
    rest = key.slice(ds.prefix.length + 1);
  }
  const m = CHUNK_KEY[ds.layout].exec(rest);
  return m?.[1] && m[2]?.startsWith(m[1]) ? m[2] : undefined;
}

/** Folder (with trailing slash) under which a datastore keeps index files (images): `<prefix>/.cnt/`. */
export function indexFolder(ds: Pick<ResolvedDatastore, 'prefix'>): string {
  return join(ds.prefix, '.cnt/');
}

/** S3 key of an index object named `name` (a relative path such as `vm/100/disk.img.fidx`). */
export function indexObjectKey(ds: Pick<ResolvedDatastore, 'prefix'>, name: string): string {
  return indexFolder(ds) + name;
}

/** Whether an image/index name is a safe relative path: no empty, `.` or `..` segments, no backslashes or control characters. */
export function isSafeObjectName(name: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (!name || name.length > 1024 || name.startsWith('/') || /[\\\u0000-\u001f\u007f]/.test(name)) return false;
  return name.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}
