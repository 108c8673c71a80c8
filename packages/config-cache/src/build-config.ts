import { configFromMapping, type Config } from '@larder/config';
import type { ConfigSnapshot } from './types.js';

/** Turn a served snapshot into the Config a process runs on: env overrides, validation, absolute paths, `transform`. */
export function configFromSnapshot(
  snap: Pick<ConfigSnapshot, 'raw' | 'baseDir' | 'generation'>,
  opts: { env?: NodeJS.ProcessEnv | false; transform?: (config: Config) => Config } = {},
): Config {
  const config = configFromMapping(snap.raw, { source: `config generation ${snap.generation}`, baseDir: snap.baseDir, env: opts.env });
  return opts.transform ? opts.transform(config) : config;
}
