/**
 * Config paths a running process reads only when it starts (listen addresses, connections, the volume,
 * timers). A change to one of them, or below it, is applied by a restart; everything else
 * (datastores, capacity, volume.reserve, fetcher.*, gateway.requestTimeout, s3 connection defaults) is live.
 */
export const RESTART_PATHS: readonly string[] = [
  'namespace',
  'redis',
  'nats',
  'gateway.listen',
  'gateway.nbdListen',
  'gateway.nbdTls',
  'gateway.s3Listen',
  'gateway.touchFlushInterval',
  'gateway.workers',
  'volume.path',
  's3.embedded',
  'index.evictInterval',
  'index.reconcileInterval',
  'telemetry.otlpEndpoint',
  'metrics',
];

/** Whether a change at `path` needs a restart to take effect. */
export function needsRestart(path: string): boolean {
  return RESTART_PATHS.some((r) => path === r || path.startsWith(`${r}.`) || r.startsWith(`${path}.`));
}

/** The paths of `paths` that need a restart. */
export function restartRequiredFor(paths: readonly string[]): string[] {
  return paths.filter(needsRestart);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Dotted paths where two JSON-like values differ: leaves, or the whole subtree when one side lacks it. */
export function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (Object.is(a, b)) return [];
  if (isRecord(a) && isRecord(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}
