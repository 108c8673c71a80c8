import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { configFromMapping, readConfigFile } from '@larder/config';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// What `docker-compose config` makes of docker-compose.yml (no Docker engine needed): the deployment as the README
// describes it. Skipped only where docker-compose is not installed (scripts/setup installs it).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const composeFile = path.join(root, 'docker-compose.yml');
const larderServices = ['cache-index', 'chunk-fetcher', 'config-service', 'gateway', 'gc-worker'];
const run = promisify(execFile);

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  /** docker-compose 1.29 keeps a port with a host address as its string. */
  ports?: ({ published: number | string; target: number } | string)[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  entrypoint?: string[];
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

const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
if (!promtool) console.warn('compose.test.ts: no promtool (apt-get install prometheus): its config check is skipped');

describe.skipIf(!installed)('docker-compose.yml', () => {
  let services: Record<string, Service>;
  let volumes: Record<string, unknown>;

  beforeAll(async () => {
    const { stdout } = await composeConfig(path.join(root, '.env.example'));
    ({ services, volumes } = parse(stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> });
  });

  it('runs every service in its own container, with Redis, NATS, MinIO, the bucket job and the observability services', () => {
    expect(Object.keys(services).sort()).toEqual([
      'cache-index',
      'chunk-fetcher',
      'config-service',
      'gateway',
      'gc-worker',
      'grafana',
      'jaeger',
      'minio',
      'minio-init',
      'nats',
      'otel-collector',
      'prometheus',
      'redis',
    ]);
    for (const name of larderServices) {
      expect(services[name]?.image).toBe('larder:dev');
      expect(services[name]?.command).toEqual(['node', `services/${name}/dist/main.js`]);
    }
    expect(services.nats?.command).toContain('-js');
    expect(services['minio-init']?.command?.join(' ')).toMatch(/mc mb --ignore-existing node\/larder-demo node\/larder-cas/);
    expect(services.gateway?.depends_on?.['minio-init']?.condition).toBe('service_completed_successfully');
  });

  it('publishes the gateway: HTTP, the S3 endpoint on all interfaces with its keys, NBD', () => {
    const gw = services.gateway;
    expect(gw?.ports?.map((p) => (typeof p === 'string' ? p : [Number(p.published), p.target]))).toEqual([
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
    expect(services.gateway?.volumes).toContain(`${path.join(root, 'infra/nbd-keys.psk')}:/etc/larder-nbd/keys.psk:ro`);
    expect(services['gc-worker']?.volumes).toContain('gc-work:/var/lib/larder-gc:rw');
    expect(Object.keys(volumes).sort()).toEqual(['chunks', 'config', 'gc-work', 'grafana-data', 'nats-data', 'prometheus-data', 'redis-data', 's3data']);
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
    // otel-collector has none: its image is distroless (no shell, wget or curl).
    for (const name of ['redis', 'nats', 'minio', ...larderServices, 'jaeger', 'prometheus', 'grafana']) expect(services[name]?.healthcheck?.test.length).toBeGreaterThan(1);
    expect(services['chunk-fetcher']?.healthcheck?.test.join(' ')).toMatch(/127\.0\.0\.1:9466\/metrics/);
    expect(services['cache-index']?.healthcheck?.test.join(' ')).toMatch(/127\.0\.0\.1:9467\/metrics/);
    expect(services['gc-worker']?.healthcheck?.test.join(' ')).toMatch(/services\/cli\/dist\/main\.js gc status/);
    expect(services.gateway?.healthcheck?.test.join(' ')).toMatch(/\/healthz/);
    expect(services['cache-index']?.depends_on?.['config-service']?.condition).toBe('service_healthy');
  });

  it('runs Redis with a password and NATS with users, from .env; the services get theirs', () => {
    // requirepass on stdin (not on the command line), from the environment the .env file fills.
    expect(services.redis?.command?.join(' ')).toMatch(/requirepass "\$\$REDIS_PASSWORD"/);
    expect(services.redis?.environment?.REDIS_PASSWORD).toBe('change-me-redis-password');
    expect(services.redis?.healthcheck?.test.join(' ')).toMatch(/PONG/);
    expect(services.nats?.command?.slice(0, 2)).toEqual(['-c', '/etc/nats/nats.conf']);
    expect(services.nats?.environment).toEqual({ LARDER_NATS_PASSWORD: 'change-me-nats-password', LARDER_NATS_ADMIN_PASSWORD: 'change-me-nats-admin-password' });
    for (const name of larderServices) {
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
    await expect(composeConfig(empty)).rejects.toThrow(/set it in \.env/);
  });

  it("sends every Larder service's traces to the collector, and the collector to Jaeger", () => {
    for (const name of larderServices) expect(services[name]?.environment?.LARDER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
    // The OTLP/HTTP exporter appends /v1/traces itself (packages/telemetry): the endpoint is the collector's base URL.
    const collector = parse(readFileSync(path.join(root, 'infra/otel/collector.yaml'), 'utf8')) as {
      receivers: { otlp: { protocols: Record<string, { endpoint: string }> } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    };
    expect(collector.receivers.otlp.protocols.http?.endpoint).toBe('0.0.0.0:4318');
    expect(collector.receivers.otlp.protocols.grpc?.endpoint).toBe('0.0.0.0:4317');
    expect(collector.service.pipelines.traces.receivers).toEqual(['otlp']);
    const [exporter] = collector.service.pipelines.traces.exporters;
    expect(collector.exporters[exporter ?? '']?.endpoint).toBe('jaeger:4317');
    expect(services['otel-collector']?.volumes).toEqual([`${path.join(root, 'infra/otel/collector.yaml')}:/etc/otelcol-contrib/config.yaml:ro`]);
    expect(services['otel-collector']?.depends_on?.jaeger?.condition).toBe('service_healthy');
    expect(services.jaeger?.environment?.COLLECTOR_OTLP_ENABLED).toBe('true');
    // No authentication in the UI: published on loopback only.
    expect(services.jaeger?.ports).toEqual(['127.0.0.1:16686:16686/tcp']);
  });

  it('has Prometheus scrape every Larder service, each replica of the scalable ones, the gateway with a read token', () => {
    const prom = parse(readFileSync(path.join(root, 'infra/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: {
        job_name: string;
        authorization?: { credentials_file: string };
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; type: string; port: number }[];
      }[];
    };
    const targets = new Map(
      prom.scrape_configs.map((job) => [
        job.job_name,
        [...(job.static_configs ?? []).flatMap((c) => c.targets), ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${c.type} ${n}:${c.port}`))],
      ]),
    );
    const config = configFromMapping(readConfigFile(path.join(root, 'infra/larder.yaml'), true), { source: 'larder.yaml', baseDir: '/etc/larder', env: {} });
    const port = (listen: string | false) => (listen === false ? undefined : Number(listen.split(':').pop()));
    // The metrics listeners on all interfaces (reachable from Prometheus's container), on the ports it scrapes.
    for (const listen of Object.values(config.metrics)) expect(listen).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(targets.get('gateway')).toEqual([`gateway:${port(config.gateway.listen)}`]);
    expect(targets.get('chunk-fetcher')).toEqual([`A chunk-fetcher:${port(config.metrics.fetcherListen)}`]);
    expect(targets.get('cache-index')).toEqual([`cache-index:${port(config.metrics.indexListen)}`]);
    expect(targets.get('config-service')).toEqual([`config-service:${port(config.metrics.configListen)}`]);
    expect(targets.get('gc-worker')).toEqual([`A gc-worker:${port(config.metrics.gcListen)}`]);
    for (const name of larderServices) expect(targets.has(name)).toBe(true);

    // The gateway's token: from .env, written by the entrypoint to the file the scrape config reads.
    const gatewayJob = prom.scrape_configs.find((j) => j.job_name === 'gateway');
    const tokenFile = gatewayJob?.authorization?.credentials_file ?? '';
    const p = services.prometheus;
    expect(p?.entrypoint).toEqual(['/bin/sh', '-c']);
    expect(p?.command?.join(' ')).toContain(`"$$LARDER_METRICS_TOKEN" > ${tokenFile} && exec /bin/prometheus`);
    expect(p?.environment?.LARDER_METRICS_TOKEN).toBe('change-me-read-token');
    const tokens = JSON.parse(services.gateway?.environment?.LARDER_TOKENS ?? '[]') as { token: string }[];
    expect(tokens.map((t) => t.token)).toContain(p?.environment?.LARDER_METRICS_TOKEN);
    expect(p?.volumes).toContain(`${path.join(root, 'infra/prometheus/prometheus.yml')}:/etc/prometheus/prometheus.yml:ro`);
    expect(p?.ports).toEqual(['127.0.0.1:9090:9090/tcp']);
  });

  it.skipIf(!promtool)('has a Prometheus config that promtool accepts', () => {
    // promtool also checks that credentials_file exists: point it at a file of a copy.
    const dir = mkdtempSync(path.join(tmpdir(), 'larder-promtool-'));
    writeFileSync(path.join(dir, 'token'), 'x');
    const text = readFileSync(path.join(root, 'infra/prometheus/prometheus.yml'), 'utf8').replace('/prometheus/larder-metrics-token', path.join(dir, 'token'));
    writeFileSync(path.join(dir, 'prometheus.yml'), text);
    const res = spawnSync(promtool, ['check', 'config', path.join(dir, 'prometheus.yml')], { encoding: 'utf8', timeout: 30_000 });
    expect(res.stdout + res.stderr).toMatch(/SUCCESS/);
    expect(res.status).toBe(0);
  });

  it('provisions Grafana: Prometheus as the default data source and the Larder dashboard', () => {
    const g = services.grafana;
    expect(g?.environment?.GF_SECURITY_ADMIN_PASSWORD).toBe('change-me-grafana-password');
    expect(g?.volumes).toContain(`${path.join(root, 'infra/grafana/provisioning')}:/etc/grafana/provisioning:ro`);
    const provisioning = path.join(root, 'infra/grafana/provisioning');
    const ds = parse(readFileSync(path.join(provisioning, 'datasources/prometheus.yaml'), 'utf8')) as { datasources: { type: string; url: string; isDefault: boolean }[] };
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
    const dash = parse(readFileSync(path.join(provisioning, 'dashboards/larder.yaml'), 'utf8')) as { providers: { options: { path: string } }[] };
    const dashDir = dash.providers[0]?.options.path;
    // The provider's folder holds infra/grafana/larder-dashboard.json, mounted there.
    expect(g?.volumes).toContain(`${path.join(root, 'infra/grafana/larder-dashboard.json')}:${dashDir}/larder-dashboard.json:ro`);
    expect(g?.depends_on?.prometheus?.condition).toBe('service_healthy');
    expect(g?.ports?.map((x) => (typeof x === 'string' ? x : x.target))).toEqual([3000]);
  });
});
