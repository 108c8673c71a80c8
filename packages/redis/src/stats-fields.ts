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
