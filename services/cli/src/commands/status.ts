import { formatSize } from '@larder/config';
import type { Command } from '../command.js';
import { gatewayGet } from '../gateway-client.js';
import { s3CostLines } from './s3-cost-lines.js';
import { decodedLines } from './decoded-lines.js';

/** A datastore's GC in /v1/status (the fields printed here). */
interface GcRun {
  apply: boolean;
  phase: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number;
  cache: { chunks: number; bytes: number };
  s3: { chunks: number; bytes: number; skipped: string | null };
  error: string | null;
}
interface GcEntry {
  store: string;
  running: GcRun | null;
  last: GcRun | null;
}

/** One line per datastore: its GC in progress, and its last run (when, how long, what it reclaimed). */
export function gcLines(gc: GcEntry[] | null | undefined): string[] {
  if (gc === undefined) return [];
  if (gc === null) return ['gc               unknown (Redis did not answer)'];
  return gc.map((g) => {
    const parts: string[] = [];
    if (g.running) parts.push(`running ${g.running.apply ? '' : 'dry run '}(${g.running.phase}) since ${g.running.startedAt}`);
    const l = g.last;
    if (l) {
      const verb = l.apply ? 'reclaimed' : 'would reclaim';
      const what = `${verb} ${l.cache.chunks} chunks (${formatSize(l.cache.bytes)}) from the cache, ${l.s3.skipped ? 'S3 not swept' : `${l.s3.chunks} (${formatSize(l.s3.bytes)}) from S3`}`;
      parts.push(`last ${l.apply ? 'GC' : 'dry run'} ${l.finishedAt ?? l.startedAt} ${l.phase} in ${(l.durationMs / 1000).toFixed(1)} s: ${l.error ?? what}`);
    }
    return `gc ${g.store.padEnd(14)}${parts.length ? parts.join('; ') : 'never run'}`;
  });
}

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
        ...decodedLines(s),
        ...(s.gcWorkersOnline === undefined ? [] : [`gc-workers       ${n('gcWorkersOnline')} online`]),
        ...gcLines(s.gc as GcEntry[] | null | undefined),
        '',
      ].join('\n'),
    );
  },
};
