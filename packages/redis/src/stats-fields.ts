/** The outcome of one S3 request, as the stats hash counts it: each is billed, failed ones too. */
export type S3RequestOutcome = 'ok' | 'not_found' | 'denied' | 'timeout' | 'error';

/** The stats field that counts S3 requests of an operation by outcome: `s3.get.ok`, `s3.get.not_found`, … */
export function s3RequestField(operation: 'get', outcome: S3RequestOutcome): string {
  return `s3.${operation}.${outcome}`;
}

/** The `s3.<operation>.<outcome>` counters of a stats hash, by operation: `{ get: { ok: 3, not_found: 1 } }`. */
export function s3RequestCounts(stats: Record<string, number>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [field, n] of Object.entries(stats)) {
    const m = /^s3\.([a-z]+)\.([a-z_]+)$/.exec(field);
    if (m) (out[m[1] as string] ??= {})[m[2] as string] = n;
  }
  return out;
}

/** An S3 operation as billed and counted per datastore: GET and HEAD (GET class), PUT, POST and LIST (PUT class), DELETE. */
export type S3Operation = 'get' | 'head' | 'put' | 'post' | 'list' | 'delete';

/**
 * The stats fields that count one datastore's S3 requests of an operation and their body bytes (GET: downloaded, PUT:
 * uploaded), every process of the node adding to them: `s3ds.<store>.<op>` and `s3ds.<store>.<op>.bytes`. Datastore
 * names have no dots, so the fields never collide.
 */
export function s3StoreFields(store: string, operation: S3Operation): { requests: string; bytes: string } {
  return { requests: `s3ds.${store}.${operation}`, bytes: `s3ds.${store}.${operation}.bytes` };
}

/** One datastore's S3 requests and bytes of one operation. */
export interface S3OperationCount {
  requests: number;
  bytes: number;
}

/** The `s3ds.<store>.<op>[.bytes]` counters of a stats hash, by datastore and operation: `{ demo: { get: { requests: 3, bytes: 9000 } } }`. */
export function s3StoreCounts(stats: Record<string, number>): Record<string, Record<string, S3OperationCount>> {
  const out: Record<string, Record<string, S3OperationCount>> = {};
  for (const [field, n] of Object.entries(stats)) {
    const m = /^s3ds\.([A-Za-z0-9_-]+)\.([a-z]+)(\.bytes)?$/.exec(field);
    if (!m) continue;
    const count = ((out[m[1] as string] ??= {})[m[2] as string] ??= { requests: 0, bytes: 0 });
    if (m[3]) count.bytes = n;
    else count.requests = n;
  }
  return out;
}
