import { applyEnvOverrides, parseConfig, resolvePaths, type Config } from '@larder/config';
import type { ConfigSnapshot } from './types.js';

/** Turn a served snapshot into the Config a process runs on: env overrides, validation, absolute paths, `transform`. */
export function configFromSnapshot(
  snap: Pick<ConfigSnapshot, 'raw' | 'baseDir' | 'generation'>,
  opts: { env?: NodeJS.ProcessEnv | false; transform?: (config: Config) => Config } = {},
): Config {
  const raw = opts.env === false ? snap.raw : applyEnvOverrides(snap.raw, opts.env ?? process.env);
  const config = resolvePaths(parseConfig(raw, `config generation ${snap.generation}`), snap.baseDir);
  return opts.transform ? opts.transform(config) : config;
}
