/** Largest PBS chunk: the dynamic chunker's maximum (4 x 4 MiB average). */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** Default ceiling for decompressed output: 16 MiB chunk plus 1 MiB slack. */
export const DEFAULT_MAX_DECODED_SIZE = MAX_CHUNK_SIZE + 1024 * 1024;

/** Largest DataBlob PBS accepts (128 MiB, MAX_BLOB_SIZE in data_blob.rs). */
export const MAX_BLOB_SIZE = 128 * 1024 * 1024;
