import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, applyEnvOverrides, loadConfig, parseConfig, resolvePaths, type Config } from '@larder/config';
import { defaultHistoryDir } from './history-store.js';
import type { GenerationState } from './types.js';

/**
 * Load the config file as loadConfig does; when it is invalid or gone, fall back to the last good
 * version the config-service kept (so that the service can start and keep serving it).
 */
export function loadConfigOrLastGood(file: string, opts: { env?: NodeJS.ProcessEnv; historyDir?: string } = {}): Config {
  const env = opts.env ?? process.env;
  try {
    return loadConfig({ file, env, required: Boolean(env.LARDER_CONFIG) });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    try {
      const real = (() => {
        try {
          return realpathSync(file);
        } catch {
          return path.resolve(file);
        }
      })();
      const dir = opts.historyDir ?? defaultHistoryDir(real);
      const state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as GenerationState;
      const text = readFileSync(path.join(dir, `${String(state.generation).padStart(8, '0')}.yaml`), 'utf8');
      const raw = (parseYaml(text) ?? {}) as Record<string, unknown>;
      return resolvePaths(parseConfig(applyEnvOverrides(raw, env), `${file} (generation ${state.generation})`), path.dirname(real));
    } catch {
      throw err;
    }
  }
}
