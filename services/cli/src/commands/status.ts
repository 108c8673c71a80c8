import { formatSize } from '@larder/config';
import type { Command } from '../command.js';
import { gatewayGet } from '../gateway-client.js';
import { s3CostLines } from './s3-cost-lines.js';

/** `larder status [--json]`: the gateway's /v1/status. */
export const status: Command = {
  summary: 'show capacity, usage, hits and misses, S3 requests and their cost, fetchers',
  usage: 'larder status [--json]',
  async run({ args, config, out }) {
    const s = (await (await gatewayGet(config(), '/v1/status')).json()) as Record<string, unknown>;
    if (args.includes('--json')) {
      out.write(`${JSON.stringify(s, null, 2)}\n`);
      return;
    }
    const n = (k: string) => Number(s[k] ?? 0);
    const lookups = n('hits') + n('misses');
    out.write(
      [
        `namespace        ${String(s.namespace)}`,
        `capacity         ${formatSize(n('capacityBytes'))}${s.effectiveCapacityBytes != null && n('effectiveCapacityBytes') < n('capacityBytes') ? ` (effective ${formatSize(n('effectiveCapacityBytes'))}: filesystem reserve)` : ''}`,
        `used             ${formatSize(n('usedBytes'))} in ${n('chunkCount')} chunks`,
        `hits / misses    ${n('hits')} / ${n('misses')}${lookups ? ` (${((100 * n('hits')) / lookups).toFixed(1)}% hits)` : ''}`,
        `S3               ${n('s3Gets')} GETs, ${formatSize(n('s3Bytes'))}`,
        ...s3CostLines(s.s3Cost as Parameters<typeof s3CostLines>[0]),
        `fetchers         ${n('fetchersOnline')} online, ${n('fetchesInFlight')} fetches in flight`,
        `cache-index      ${s.cacheIndexOnline ? 'online' : 'OFFLINE'}`,
        `verify failures  ${n('verifyFailures')} (${n('quarantined')} chunk files quarantined)`,
        '',
      ].join('\n'),
    );
  },
};
