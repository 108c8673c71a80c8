import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { configFromMapping, readConfigFile } from '@larder/config';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// What `docker-compose config` makes of infra/docker-compose.yml (no Docker engine needed): the deployment as
// the README describes it. Skipped only where docker-compose is not installed (scripts/setup installs it).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const composeFile = path.join(root, 'infra/docker-compose.yml');
const run = promisify(execFile);

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: { published: number | string; target: number }[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
}

/** docker-compose config with `envFile` and nothing of this process's LARDER_ variables (they would interpolate). */
async function composeConfig(envFile: string) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LARDER_') && k !== 'UV_THREADPOOL_SIZE'));
  return run('docker-compose', ['-f', composeFile, '--env-file', envFile, 'config'], { env, cwd: root, timeout: 30_000 });
}

const installed = await run('docker-compose', ['version'], { timeout: 30_000 }).then(
  () => true,
  () => false,
);

describe.skipIf(!installed)('infra/docker-compose.yml', () => {
  let services: Record<string, Service>;
  let volumes: Record<string, unknown>;

  beforeAll(async () => {
    const { stdout } = await composeConfig(path.join(root, 'infra/.env.example'));
    ({ services, volumes } = parse(stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> });
  });

  it('runs every service in its own container, with Redis, NATS, MinIO and the bucket job', () => {
    expect(Object.keys(services).sort()).toEqual(['cache-index', 'chunk-fetcher', 'config-service', 'gateway', 'gc-worker', 'minio', 'minio-init', 'nats', 'redis']);
    for (const name of ['cache-index', 'chunk-fetcher', 'config-service', 'gateway', 'gc-worker']) {
      expect(services[name]?.image).toBe('larder:dev');
      expect(services[name]?.command).toEqual(['node', `services/${name}/dist/main.js`]);
    }
    expect(services.nats?.command).toContain('-js');
    expect(services['minio-init']?.command?.join(' ')).toMatch(/mc mb --ignore-existing node\/larder-demo node\/larder-cas/);
    expect(services.gateway?.depends_on?.['minio-init']?.condition).toBe('service_completed_successfully');
  });

  it('publishes the gateway: HTTP, the S3 endpoint on all interfaces with its keys, NBD', () => {
    const gw = services.gateway;
    expect(gw?.ports?.map((p) => [Number(p.published), p.target])).toEqual([
      [8780, 8780],
      [8781, 8781],
      [10809, 10809],
    ]);
    expect(gw?.environment?.LARDER_GATEWAY_S3_LISTEN).toBe('0.0.0.0:8781');
    const keys = JSON.parse(gw?.environment?.LARDER_ACCESS_KEYS ?? '') as { accessKeyId: string }[];
    expect(keys.map((k) => k.accessKeyId)).toEqual(['backup-host']);
  });

  it('shares one chunk volume at one path between gateway, fetchers and cache-index, and keeps Redis and NATS data', () => {
    for (const name of ['gateway', 'chunk-fetcher', 'cache-index', 'gc-worker']) {
      expect(services[name]?.volumes).toContain('chunks:/var/lib/larder:rw');
      expect(services[name]?.environment?.LARDER_VOLUME_PATH).toBe('/var/lib/larder');
    }
    expect(services['config-service']?.volumes).toEqual(['config:/etc/larder:rw']);
    expect(services.redis?.volumes).toEqual(['redis-data:/data:rw']);
    expect(services.redis?.command?.join(' ')).toMatch(/redis-server - --appendonly yes/);
    expect(services.nats?.volumes).toEqual(['nats-data:/data:rw', `${path.join(root, 'infra/nats/nats.conf')}:/etc/nats/nats.conf:ro`]);
    expect(services['gc-worker']?.volumes).toContain('gc-work:/var/lib/larder-gc:rw');
    expect(Object.keys(volumes).sort()).toEqual(['chunks', 'config', 'gc-work', 'nats-data', 'redis-data', 's3data']);
  });

  it("gives the gateway a config it starts with: infra/larder.yaml under the container's environment", () => {
    const raw = readConfigFile(path.join(root, 'infra/larder.yaml'), true);
    const config = configFromMapping(raw, { source: 'larder.yaml', baseDir: '/etc/larder', env: services.gateway?.environment ?? {} });
    expect(config.gateway.s3Listen).toBe('0.0.0.0:8781');
    // On 0.0.0.0 the gateway starts only with tokens (LARDER_TOKENS); the config-service checks changes against them.
    expect(config.tokens.map((t) => t.scope)).toEqual(['admin', 'read']);
    expect(services['config-service']?.environment?.LARDER_TOKENS).toBe(services.gateway?.environment?.LARDER_TOKENS);
    // NBD on all interfaces: TLS with the PSK file mounted into the gateway.
    expect(config.gateway.nbdListen).toBe('0.0.0.0:10809');
    expect(config.gateway.nbdTls).toEqual({ pskFile: '/etc/larder-nbd/keys.psk', require: true });
    expect(services.gateway?.volumes?.some((v) => v.endsWith(':/etc/larder-nbd/keys.psk:ro'))).toBe(true);
    expect(config.accessKeys.map((k) => k.access)).toEqual(['read-write']);
    expect(config.volume.path).toBe('/var/lib/larder');
    expect(config.gc.workDir).toBe('/var/lib/larder-gc');
    expect(config.redis.url).toBe('redis://redis:6379');
    expect(config.redis.password).toBe('change-me-redis-password');
    expect(config.nats).toMatchObject({ servers: 'nats://nats:4222', user: 'larder', pass: 'change-me-nats-password' });
    expect(Object.values(config.datastores).map((d) => d.bucket)).toEqual(['larder-demo', 'larder-cas']);
  });

  it('sizes the thread pool of the gateway and the fetchers, which scale', () => {
    expect(services.gateway?.environment?.UV_THREADPOOL_SIZE).toBe('16');
    expect(services['chunk-fetcher']?.environment?.UV_THREADPOOL_SIZE).toBe('16');
    expect(services['chunk-fetcher']?.deploy?.replicas).toBe(2);
    expect(services['chunk-fetcher']?.ports).toBeUndefined(); // a published port would stop --scale
  });

  it('has health checks that the services depend on', () => {
    for (const name of ['redis', 'nats', 'minio', 'config-service', 'gateway', 'gc-worker']) expect(services[name]?.healthcheck?.test.length).toBeGreaterThan(1);
    expect(services['gc-worker']?.healthcheck?.test.join(' ')).toMatch(/services\/cli\/dist\/main\.js gc status/);
    expect(services.gateway?.healthcheck?.test.join(' ')).toMatch(/\/healthz/);
    expect(services['cache-index']?.depends_on?.['config-service']?.condition).toBe('service_healthy');
  });

  it('runs Redis with a password and NATS with users, from infra/.env; the services get theirs', () => {
    // requirepass on stdin (not on the command line), from the environment the .env file fills.
    expect(services.redis?.command?.join(' ')).toMatch(/requirepass "\$\$REDIS_PASSWORD"/);
    expect(services.redis?.environment?.REDIS_PASSWORD).toBe('change-me-redis-password');
    expect(services.redis?.healthcheck?.test.join(' ')).toMatch(/PONG/);
    expect(services.nats?.command?.slice(0, 2)).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(services.nats?.environment).toEqual({ LARDER_NATS_PASSWORD: 'change-me-nats-password', LARDER_NATS_ADMIN_PASSWORD: 'change-me-nats-admin-password' });
    for (const name of ['cache-index', 'chunk-fetcher', 'config-service', 'gateway']) {
      expect(services[name]?.environment).toMatchObject({
        LARDER_REDIS_PASSWORD: 'change-me-redis-password',
        LARDER_NATS_USER: 'larder',
        LARDER_NATS_PASSWORD: 'change-me-nats-password',
      });
      expect(services[name]?.environment?.LARDER_NATS_ADMIN_PASSWORD).toBeUndefined();
    }
  });

  it('takes secrets only from the environment: without them it refuses', async () => {
    const empty = path.join(mkdtempSync(path.join(tmpdir(), 'larder-compose-')), '.env');
    writeFileSync(empty, '');
    await expect(composeConfig(empty)).rejects.toThrow(/set it in infra\/\.env/);
  });
});
