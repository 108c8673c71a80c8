import { formatSize } from '@larder/config';

/** The `s3Cost` part of `/v1/status` as the CLI reads it. */
interface S3CostStatus {
  currency: string;
  datastores: Record<string, { operations: Record<string, { requests: number; bytes: number }>; cost: number }>;
  cost: { requests: number; egress: number; total: number };
  saved: { hits: number; hitBytes: number; putsNotSent: number; total: number };
}

/** An amount with enough digits for a few requests to show: 0.000012 USD, 1.23 USD. */
function money(amount: number, currency: string): string {
  return `${amount >= 1 ? amount.toFixed(2) : amount.toLocaleString('en-US', { maximumSignificantDigits: 2, useGrouping: false })} ${currency}`;
}

/** `larder status` lines for S3 requests and bytes per datastore and operation, their estimated cost and what the cache saved. */
export function s3CostLines(s3Cost: S3CostStatus | null | undefined): string[] {
  if (!s3Cost) return [];
  const { currency } = s3Cost;
  const lines = Object.entries(s3Cost.datastores).map(([store, d]) => {
    const ops = Object.entries(d.operations)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([op, c]) => `${op.toUpperCase()} ${c.requests}${c.bytes > 0 ? ` (${formatSize(c.bytes)})` : ''}`)
      .join(', ');
    return `S3 ${store.padEnd(13)} ${ops}: ~${money(d.cost, currency)}`;
  });
  lines.push(
    `S3 cost          ~${money(s3Cost.cost.total, currency)} (requests ${money(s3Cost.cost.requests, currency)}, egress ${money(s3Cost.cost.egress, currency)})`,
    `cache saved      ~${money(s3Cost.saved.total, currency)} (${s3Cost.saved.hits} hits, ${formatSize(s3Cost.saved.hitBytes)} served, ${s3Cost.saved.putsNotSent} PUTs not sent)`,
  );
  return lines;
}
