import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, configFromMapping, loadConfig, parseYamlMapping, readEnvironment, type Config } from '@larder/config';
import { HistoryStore, defaultHistoryDir } from './history-store.js';

/**
 * Load the config file as loadConfig does; when it is invalid or gone, fall back to the last good
 * version the config-service kept (so that the service can start and keep serving it).
 */
export async function loadConfigOrLastGood(file: string, opts: { env?: NodeJS.ProcessEnv; historyDir?: string } = {}): Promise<Config> {
  try {
    return loadConfig({ file, env: opts.env, required: readEnvironment(opts.env).configFile !== undefined });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    try {
      const real = await realpath(file).catch(() => path.resolve(file));
      const kept = await new HistoryStore(opts.historyDir ?? defaultHistoryDir(real)).lastInForce();
      if (!kept) throw err;
      const source = `${file} (generation ${kept.state.generation})`;
      return configFromMapping(parseYamlMapping(kept.text, source), { source, baseDir: path.dirname(real), env: opts.env });
    } catch {
      throw err;
    }
  }
}
