import { parseDuration } from '@larder/config';
import { DEFAULT_CONFIG_TTL_MS } from './config-cache.js';

/** The config TTL from LARDER_CONFIG_TTL (`60s`, `500ms`, ms), else the default 60 s. */
export function configTtlFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.LARDER_CONFIG_TTL;
  const ms = v ? parseDuration(v) : undefined;
  return ms !== undefined && ms > 0 ? ms : DEFAULT_CONFIG_TTL_MS;
}
