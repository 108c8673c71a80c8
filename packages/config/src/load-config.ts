import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { applyEnvOverrides } from './env-overrides.js';
import { readEnvironment, type Environment } from './environment.js';
import { parseConfig, parseLenientMapping, parseYamlMapping } from './parse-config.js';
import type { Config } from './types.js';

/** Where the configuration comes from: `LARDER_CONFIG`, else `larder.yaml` in the working directory. */
export function configPath(environment: Environment = readEnvironment(), cwd = process.cwd()): string {
  return path.resolve(cwd, environment.configFile ?? 'larder.yaml');
}

/** Read the raw YAML mapping of a config file; a missing file is an empty mapping unless `required`. */
export function readConfigFile(file: string, required = false): Record<string, unknown> {
  if (!existsSync(file)) {
    if (required) throw new ConfigError(file, [{ path: '', message: 'file not found' }]);
    return {};
  }
  return parseYamlMapping(readFileSync(file, 'utf8'), file);
}

/** The top-level mapping of a config file that may be broken or gone (see parseLenientMapping); never throws. */
export function readConfigFileLenient(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  return parseLenientMapping(text);
}

/** The files of `gateway.nbdTls`, absolute. */
function resolveNbdTls(tls: Config['gateway']['nbdTls'], baseDir: string): Config['gateway']['nbdTls'] {
  if (!tls) return tls;
  const out = { ...tls };
  for (const key of ['caFile', 'certFile', 'keyFile', 'pskFile'] as const) {
    const file = tls[key];
    if (file !== undefined) out[key] = path.resolve(baseDir, file);
  }
  return out;
}

/** Make the volume and embedded-S3 directories and the NBD, Redis and NATS TLS files absolute, relative to the config file's folder. */
export function resolvePaths(config: Config, baseDir: string): Config {
  return {
    ...config,
    gateway: { ...config.gateway, nbdTls: resolveNbdTls(config.gateway.nbdTls, baseDir) },
    redis: config.redis.tls ? { ...config.redis, tls: resolveTlsFiles(config.redis.tls, baseDir) } : config.redis,
    nats: config.nats.tls ? { ...config.nats, tls: resolveTlsFiles(config.nats.tls, baseDir) } : config.nats,
    volume: { ...config.volume, path: path.resolve(baseDir, config.volume.path) },
    s3: { ...config.s3, embedded: { ...config.s3.embedded, directory: path.resolve(baseDir, config.s3.embedded.directory) } },
    gc: { ...config.gc, workDir: path.resolve(baseDir, config.gc.workDir) },
  };
}

function resolveTlsFiles<T extends { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined }>(tls: T, baseDir: string): T {
  const out = { ...tls };
  for (const k of ['caFile', 'certFile', 'keyFile'] as const) if (tls[k] !== undefined) out[k] = path.resolve(baseDir, tls[k]);
  return out;
}

/**
 * The Config a process runs on from a config file's mapping: environment overrides (none with `env: false`;
 * default the process's), validation (errors name `source`), paths made absolute against `baseDir`.
 */
export function configFromMapping(raw: Record<string, unknown>, opts: { source: string; baseDir: string; env?: NodeJS.ProcessEnv | false }): Config {
  const withEnv = opts.env === false ? raw : applyEnvOverrides(raw, readEnvironment(opts.env).overrides);
  return resolvePaths(parseConfig(withEnv, opts.source), opts.baseDir);
}

/** Load, override from the environment, validate and resolve the configuration. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; required?: boolean } = {}): Config {
  const environment = readEnvironment(opts.env);
  const file = opts.file ?? configPath(environment);
  const raw = readConfigFile(file, opts.required ?? Boolean(opts.file || environment.configFile));
  return configFromMapping(raw, { source: file, baseDir: path.dirname(file), env: opts.env });
}
