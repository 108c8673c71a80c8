import type { LarderStack } from './larder-hook.js';
import type { S3Usage } from './types.js';

type Operations = Record<string, { requests: number; bytes: number } | undefined>;

/** A datastore's S3 counts as Larder's `/v1/status` shows them (`s3Cost`); undefined when the gateway does not show them. */
export async function larderS3Counts(stack: LarderStack, store: string): Promise<Operations | undefined> {
  try {
    const res = await fetch(`${stack.gatewayUrl}/v1/status`, { signal: AbortSignal.timeout(10_000) });
    const status = (await res.json()) as { s3Cost?: { datastores?: Record<string, { operations?: Operations }> } | null };
    if (!status.s3Cost) return undefined;
    return status.s3Cost.datastores?.[store]?.operations ?? {};
  } catch {
    return undefined;
  }
}

/** The S3 requests Larder made between two counts of a datastore, for `dataBytes` of data moved. */
export function larderS3Usage(before: Operations | undefined, after: Operations | undefined, dataBytes: number): S3Usage | undefined {
  if (!before || !after) return undefined;
  const n = (op: string, k: 'requests' | 'bytes') => (after[op]?.[k] ?? 0) - (before[op]?.[k] ?? 0);
  return {
    gets: n('get', 'requests'),
    heads: n('head', 'requests'),
    puts: n('put', 'requests') + n('post', 'requests'),
    lists: n('list', 'requests'),
    deletes: n('delete', 'requests'),
    bytesDownloaded: n('get', 'bytes'),
    dataBytes,
  };
}
