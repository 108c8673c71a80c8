import { parseConfigText } from '@larder/config';
import type { ResultRow } from './types.js';
import { formatValue } from './svg-chart.js';

/** Larder's default `prices` (AWS S3 Standard, us-east-1 list prices), the same the gateway's status estimates with. */
export const S3_PRICES = parseConfigText('').prices;

const TIB = 2 ** 40;
const GIB = 2 ** 30;

/** Requests and estimated USD per TiB of data restored or backed up, from a row's S3 usage. */
export function costPerTiB(s3: NonNullable<ResultRow['s3']>): { requests: number; requestUsd: number; egressUsd: number; totalUsd: number } {
  const scale = s3.dataBytes > 0 ? TIB / s3.dataBytes : 0;
  const getClass = s3.gets + s3.heads;
  const putClass = s3.puts + s3.lists;
  const requestUsd = ((getClass * S3_PRICES.getPer1000 + putClass * S3_PRICES.putPer1000 + s3.deletes * S3_PRICES.deletePer1000) / 1000) * scale;
  const egressUsd = (s3.bytesDownloaded / GIB) * S3_PRICES.egressPerGiB * scale;
  return { requests: (getClass + putClass + s3.deletes) * scale, requestUsd, egressUsd, totalUsd: requestUsd + egressUsd };
}

/** The "S3 cost" table of a scenario's rows that counted their S3 requests; empty when none did. */
export function s3CostTable(rows: readonly ResultRow[]): string {
  const counted = rows.filter((r) => r.s3 && r.s3.dataBytes > 0);
  if (counted.length === 0) return '';
  const lines = [
    '| Case | System | GETs+HEADs | PUTs+LISTs | Requests per TiB | Requests $ per TiB | Egress $ per TiB | Total $ per TiB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of counted) {
    const s3 = r.s3!;
    const c = costPerTiB(s3);
    lines.push(
      `| ${r.case} | ${r.system} | ${s3.gets + s3.heads} | ${s3.puts + s3.lists} | ${formatValue(c.requests)} | ${c.requestUsd.toFixed(2)} | ${c.egressUsd.toFixed(2)} | ${c.totalUsd.toFixed(2)} |`,
    );
  }
  return [
    "**S3 cost** (AWS S3 Standard us-east-1 list prices, Larder's default `prices`: $0.0004 per 1,000 GETs/HEADs, $0.005 per 1,000 PUTs/LISTs, " +
      "$0.09 per GiB egress; the run's counts scaled to one TiB of data restored or backed up):",
    '',
    ...lines,
  ].join('\n');
}
