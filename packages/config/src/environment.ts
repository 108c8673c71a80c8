import { ConfigError } from './errors.js';
import { parseDuration } from './units.js';

/** Default time without a broadcast after which a config cache asks for the current generation, and the config-service re-reads its file. */
export const DEFAULT_CONFIG_TTL_MS = 60_000;

/** Environment variables that override addresses and secrets, and the config path each sets (a LARDER_ name before its generic one). */
export const ENV_OVERRIDES: ReadonlyArray<readonly [string, string[]]> = [
  ['LARDER_NAMESPACE', ['namespace']],
  ['LARDER_REDIS_URL', ['redis', 'url']],
  ['REDIS_URL', ['redis', 'url']],
  ['LARDER_REDIS_USERNAME', ['redis', 'username']],
  ['LARDER_REDIS_PASSWORD', ['redis', 'password']],
  ['LARDER_NATS_URL', ['nats', 'servers']],
  ['NATS_URL', ['nats', 'servers']],
  ['LARDER_NATS_USER', ['nats', 'user']],
  ['LARDER_NATS_PASSWORD', ['nats', 'pass']],
  ['LARDER_NATS_TOKEN', ['nats', 'token']],
  ['LARDER_GATEWAY_LISTEN', ['gateway', 'listen']],
  ['LARDER_NBD_LISTEN', ['gateway', 'nbdListen']],
  ['LARDER_NBD_PSK_FILE', ['gateway', 'nbdTls', 'pskFile']],
  ['LARDER_GATEWAY_S3_LISTEN', ['gateway', 's3Listen']],
  ['LARDER_VOLUME_PATH', ['volume', 'path']],
  ['LARDER_S3_ENDPOINT', ['s3', 'endpoint']],
  ['LARDER_S3_REGION', ['s3', 'region']],
  ['LARDER_S3_ACCESS_KEY_ID', ['s3', 'accessKeyId']],
  ['AWS_ACCESS_KEY_ID', ['s3', 'accessKeyId']],
  ['LARDER_S3_SECRET_ACCESS_KEY', ['s3', 'secretAccessKey']],
  ['AWS_SECRET_ACCESS_KEY', ['s3', 'secretAccessKey']],
  ['LARDER_OTLP_ENDPOINT', ['telemetry', 'otlpEndpoint']],
];

/** Environment variables whose value is JSON (a list or mapping, not a string), and the config path each sets. */
// Secrets such as S3 access keys belong in the environment (a container's secret), not in the file served over NATS.
export const ENV_JSON_OVERRIDES: ReadonlyArray<readonly [string, string[]]> = [
  ['LARDER_ACCESS_KEYS', ['accessKeys']],
  ['LARDER_TOKENS', ['tokens']],
];

/** One config value set from the environment. */
export interface EnvOverride {
  /** The variable it comes from. */
  variable: string;
  /** The config path it sets. */
  path: readonly string[];
  /** A string, or the parsed value of an ENV_JSON_OVERRIDES variable. */
  value: unknown;
}

/** Every environment variable Larder reads, as read at one moment (the only module that reads `process.env`). */
export interface Environment {
  /** LARDER_CONFIG: the config file named explicitly (it must then exist); undefined = `larder.yaml` in the working directory. */
  configFile: string | undefined;
  /** Config values from ENV_OVERRIDES, at most one per path (the LARDER_ name wins over the generic one). */
  overrides: readonly EnvOverride[];
  /** LARDER_CONFIG_TTL (`60s`, `500ms`, ms): TTL of the config-service's file check and of the config caches; default 60 s. */
  configTtlMs: number;
  /** LARDER_LOG_LEVEL: `debug`, `info` (default), `warn`, `error` or `silent`. */
  logLevel: string;
  /** LARDER_GATEWAY_URL: the gateway the CLI talks to; undefined = `http://<gateway.listen>`. */
  gatewayUrl: string | undefined;
  /** $VISUAL, else $EDITOR, else `vi`: the editor of `larder config edit`. */
  editor: string;
  /** LARDER_TOKEN: the bearer token the CLI sends to the gateway and with config requests (and a service with its config requests). */
  token: string | undefined;
}

/** Read the environment (`env`, default the process's). */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const overrides: EnvOverride[] = [];
  const applied = new Set<string>();
  for (const [variable, path] of ENV_OVERRIDES) {
    const value = env[variable];
    const key = path.join('.');
    if (value === undefined || value === '' || applied.has(key)) continue;
    applied.add(key);
    overrides.push({ variable, path, value });
  }
  for (const [variable, path] of ENV_JSON_OVERRIDES) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    overrides.push({ variable, path, value: parseJsonVariable(variable, value) });
  }
  const ttl = env.LARDER_CONFIG_TTL ? parseDuration(env.LARDER_CONFIG_TTL) : undefined;
  return {
    configFile: env.LARDER_CONFIG || undefined,
    overrides,
    configTtlMs: ttl !== undefined && ttl > 0 ? ttl : DEFAULT_CONFIG_TTL_MS,
    logLevel: env.LARDER_LOG_LEVEL ?? 'info',
    gatewayUrl: env.LARDER_GATEWAY_URL,
    editor: env.VISUAL || env.EDITOR || 'vi',
    token: env.LARDER_TOKEN || undefined,
  };
}

function parseJsonVariable(variable: string, value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    // Neither the value nor JSON.parse's message (which quotes it) is shown: it holds secrets.
    const example = variable === 'LARDER_TOKENS' ? '[{"name": "...", "sha256": "...", "scope": "read"}]' : '[{"accessKeyId": "...", "secretAccessKey": "..."}]';
    throw new ConfigError(variable, [{ path: '', message: `not valid JSON (expected e.g. ${example})` }]);
  }
}
