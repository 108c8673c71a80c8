import { applyEnvOverrides, configFromMapping, fillRedacted, readEnvironment, redactedSecrets, type Config } from '@larder/config';
import { ConfigCacheError } from './errors.js';
import type { ConfigSnapshot } from './types.js';

/**
 * Turn a served snapshot into the Config a process runs on: its redacted secrets filled from `localSecrets` (the
 * process's own file), env overrides, validation, absolute paths, `transform`. Throws ConfigCacheError when a
 * secret stays redacted (a process never runs on a redaction mark).
 */
export function configFromSnapshot(
  snap: Pick<ConfigSnapshot, 'raw' | 'baseDir' | 'generation'>,
  opts: { env?: NodeJS.ProcessEnv | false; transform?: (config: Config) => Config; localSecrets?: () => Record<string, unknown> } = {},
): Config {
  const redacted = redactedSecrets(snap.raw).length > 0;
  const filled = redacted ? fillRedacted(snap.raw, opts.localSecrets?.() ?? {}) : snap.raw;
  const raw = opts.env === false ? filled : applyEnvOverrides(filled, readEnvironment(opts.env).overrides);
  const missing = redacted ? redactedSecrets(raw) : [];
  if (missing.length) {
    throw new ConfigCacheError(
      `the config-service serves ${missing.join(', ')} redacted and this process has no value of its own: give ${missing.length === 1 ? 'it' : 'them'} in this process's config file or environment, or give it LARDER_TOKEN (an admin token) to receive the secrets`,
    );
  }
  const config = configFromMapping(raw, { source: `config generation ${snap.generation}`, baseDir: snap.baseDir, env: false });
  return opts.transform ? opts.transform(config) : config;
}
