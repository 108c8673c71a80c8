/** Environment variables that override addresses and secrets, and the config path each sets. */
export const ENV_OVERRIDES: ReadonlyArray<readonly [string, string[]]> = [
  ['LARDER_NAMESPACE', ['namespace']],
  ['LARDER_REDIS_URL', ['redis', 'url']],
  ['REDIS_URL', ['redis', 'url']],
  ['LARDER_NATS_URL', ['nats', 'servers']],
  ['NATS_URL', ['nats', 'servers']],
  ['LARDER_GATEWAY_LISTEN', ['gateway', 'listen']],
  ['LARDER_NBD_LISTEN', ['gateway', 'nbdListen']],
  ['LARDER_VOLUME_PATH', ['volume', 'path']],
  ['LARDER_S3_ENDPOINT', ['s3', 'endpoint']],
  ['LARDER_S3_REGION', ['s3', 'region']],
  ['LARDER_S3_ACCESS_KEY_ID', ['s3', 'accessKeyId']],
  ['AWS_ACCESS_KEY_ID', ['s3', 'accessKeyId']],
  ['LARDER_S3_SECRET_ACCESS_KEY', ['s3', 'secretAccessKey']],
  ['AWS_SECRET_ACCESS_KEY', ['s3', 'secretAccessKey']],
  ['LARDER_OTLP_ENDPOINT', ['telemetry', 'otlpEndpoint']],
];

/** Apply environment overrides to a raw (unvalidated) config object; the LARDER_ names win over generic ones. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = structuredClone(raw);
  const applied = new Set<string>();
  for (const [name, path] of ENV_OVERRIDES) {
    const value = env[name];
    const key = path.join('.');
    if (value === undefined || value === '' || applied.has(key)) continue;
    applied.add(key);
    let node = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      node[part] = typeof next === 'object' && next !== null ? next : {};
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  }
  return out;
}
