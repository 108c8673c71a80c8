import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';
import { applyEnvOverrides } from './env-overrides.js';
import { parseConfig } from './parse-config.js';
import type { Config } from './types.js';

/** Where the configuration comes from: `LARDER_CONFIG`, else `larder.yaml` in the working directory. */
export function configPath(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, env.LARDER_CONFIG || 'larder.yaml');
}

/** Read the raw YAML mapping of a config file; a missing file is an empty mapping unless `required`. */
export function readConfigFile(file: string, required = false): Record<string, unknown> {
  if (!existsSync(file)) {
    if (required) throw new ConfigError(file, [{ path: '', message: 'file not found' }]);
    return {};
  }
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `not valid YAML: ${(err as Error).message}` }], { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(file, [{ path: '', message: 'expected a mapping at the top level' }]);
  }
  return doc as Record<string, unknown>;
}

/** Make the volume and embedded-S3 directories absolute, relative to the config file's folder. */
export function resolvePaths(config: Config, baseDir: string): Config {
  return {
    ...config,
    volume: { ...config.volume, path: path.resolve(baseDir, config.volume.path) },
    s3: { ...config.s3, embedded: { ...config.s3.embedded, directory: path.resolve(baseDir, config.s3.embedded.directory) } },
  };
}

/** Load, override from the environment, validate and resolve the configuration. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; required?: boolean } = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? configPath(env);
  const raw = applyEnvOverrides(readConfigFile(file, opts.required ?? Boolean(opts.file || env.LARDER_CONFIG)), env);
  return resolvePaths(parseConfig(raw, file), path.dirname(file));
}
