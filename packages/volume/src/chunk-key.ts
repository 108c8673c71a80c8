/** The cache-wide name of a chunk: `<store>/<digest>`. Stores and digests contain no slashes. */
export function chunkKey(store: string, digest: string): string {
  return `${store}/${digest}`;
}

/** Split a chunk key into store and digest; undefined when malformed. */
export function parseChunkKey(key: string): { store: string; digest: string } | undefined {
  const m = /^([A-Za-z0-9][A-Za-z0-9_-]{0,62})\/([0-9a-f]{64})$/.exec(key);
  return m ? { store: m[1] as string, digest: m[2] as string } : undefined;
}
