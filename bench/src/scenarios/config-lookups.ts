import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { connectBus, type NatsConnection } from '@larder/bus';
import { loadConfig, resolveDatastore } from '@larder/config';
import { ConfigCache, requestConfigChange } from '@larder/config-cache';
import { startConfigService } from '@larder/config-service';
import { benchBusOptions } from '../bench-connections.js';
import { LOCAL_LINK } from '../link.js';
import { fig, OutcomeBuilder } from '../outcome.js';
import type { BenchContext, Scenario } from '../types.js';
import { percentile } from '../units.js';

/** Datastores in the generated config. */
export const CONFIG_DATASTORES = 1000;
/** Distinct datastores looked up (M). */
export const LOOKUP_M = [1, 10, 100, 1000] as const;
/** Lookups of each datastore (N). */
export const LOOKUP_N = [1, 10, 100] as const;
/** Services that must all run on a new generation. */
export const PROPAGATION_SERVICES = 5;

const CHILD = fileURLToPath(new URL('./config-lookups-child.js', import.meta.url));
const NATS_URL = () => process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A config with `count` datastores, as a YAML text. */
export function generatedConfig(namespace: string, count: number): string {
  const lines = [`namespace: ${namespace}`, 's3:', '  endpoint: http://127.0.0.1:9000', 'capacity: 10GiB', 'datastores:'];
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(4, '0');
    lines.push(`  ds${n}:`, `    layout: ${i % 2 ? 'casync' : 'pbs'}`, `    bucket: bench-bucket-${n}`, `    prefix: tenant/${n}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The M distinct names looked up: spread over all datastores. */
function names(m: number, count: number): string[] {
  return Array.from({ length: m }, (_, i) => `ds${String(Math.floor((i * count) / m)).padStart(4, '0')}`);
}

/** Time `lookup` over M names × N lookups each; repeats the whole run until `minMs` passed; ms per run. */
function timeRun(list: string[], n: number, lookup: (name: string) => unknown, minMs: number): number {
  let sink = 0;
  let runs = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    for (let k = 0; k < n; k++) for (const name of list) if (lookup(name)) sink++;
    runs++;
    elapsed = performance.now() - t0;
  } while (elapsed < minMs);
  if (sink < 0) throw new Error('unreachable');
  return elapsed / runs;
}

/** Time `lookup` on a sample of at most `sample` of the M×N lookups and scale to all of them; ms. */
function timeSampled(list: string[], n: number, lookup: (name: string) => unknown, sample: number): { ms: number; measured: number } {
  const total = list.length * n;
  const measured = Math.min(total, sample);
  let done = 0;
  const t0 = performance.now();
  outer: for (let k = 0; k < n; k++) {
    for (const name of list) {
      if (!lookup(name)) throw new Error(`lookup of ${name} failed`);
      if (++done >= measured) break outer;
    }
  }
  return { ms: ((performance.now() - t0) * total) / measured, measured };
}

/** A config-service on a generated config of `stores` datastores in a fresh namespace, and NATS connections made for it (all closed by `stop`). */
async function servedConfig(dir: string, name: string, stores: number) {
  const ns = `bench${randomBytes(4).toString('hex')}`;
  const file = path.join(dir, name);
  await writeFile(file, generatedConfig(ns, stores));
  const conns: NatsConnection[] = [];
  const connect = async () => {
    const nc = await connectBus(benchBusOptions(NATS_URL(), `${ns}-bench`));
    conns.push(nc);
    return nc;
  };
  const svc = await startConfigService({ nc: await connect(), file, namespace: ns, ttlMs: 60_000 });
  const stop = async () => {
    await svc.stop();
    for (const nc of conns) await nc.close();
  };
  return { ns, file, connect, svc, stop };
}

async function hotPathTable(ctx: BenchContext, out: OutcomeBuilder, dir: string): Promise<void> {
  const { ns, file, connect, svc, stop } = await servedConfig(dir, 'lookups.yaml', CONFIG_DATASTORES);
  const cache = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 60_000, env: false });
  try {
    const sample = ctx.quick ? 30 : 300;
    const parsePerLookup = (name: string) => resolveDatastore(loadConfig({ file, env: {} }), name);
    const hot = (name: string) => cache.datastore(name);
    const hotResolve = (name: string) => resolveDatastore(cache.current(), name);
    // Warm up every path (JIT, file cache).
    timeRun(names(100, CONFIG_DATASTORES), 10, hot, 20);
    timeRun(names(100, CONFIG_DATASTORES), 10, hotResolve, 20);
    timeSampled(names(10, CONFIG_DATASTORES), 1, parsePerLookup, 10);
    for (const m of LOOKUP_M) {
      for (const n of LOOKUP_N) {
        const list = names(m, CONFIG_DATASTORES);
        const total = m * n;
        const c = `M=${m} × N=${n} (${total} lookups, ${CONFIG_DATASTORES} datastores)`;
        ctx.log(`config-lookups: ${c}`);
        const hotMs = timeRun(list, n, hot, 50);
        const resolveMs = timeRun(list, n, hotResolve, 50);
        const parsed = timeSampled(list, n, parsePerLookup, sample);
        const row = (system: string, ms: number, note: string) =>
          out.row({ case: c, system, link: LOCAL_LINK, figures: [fig('time', ms, 'ms', 'lower'), fig('lookups/s', total / (ms / 1000), 'lookups/s', 'higher')], note });
        const hotRow = row('hot path: ConfigCache.datastore(name) (map read)', hotMs, 'whole M×N run repeated for ≥ 50 ms, time per run');
        const resolveRow = row('hot path: resolveDatastore(cache.current(), name)', resolveMs, 'what services do per request; whole run repeated for ≥ 50 ms');
        const parseRow = row(
          'parse per lookup: read file + YAML + zod + resolve (loadConfig)',
          parsed.ms,
          parsed.measured < total ? `measured on ${parsed.measured} of ${total} lookups, scaled to ${total}` : `all ${total} lookups measured`,
        );
        out.ratio(c, 'map read / parse per lookup', 'lookups/s', hotRow, parseRow);
        out.ratio(c, 'cache.current()+resolve / parse per lookup', 'lookups/s', resolveRow, parseRow);
      }
    }
    out.note(
      `Hot path vs parse-per-lookup on a generated config of ${CONFIG_DATASTORES} datastores (${Math.round(svc.snapshot().text.length / 1024)} KiB of YAML), ` +
        'as the M×N table of the Proxmox series "datastore: remove config reload on hot path" (M distinct datastores, N lookups each). ' +
        'The ratios are the speedup of the cached lookup.',
    );
  } finally {
    await cache.stop();
    await stop();
  }
}

interface Service {
  generation: number;
  waiters: { target: number; resolve: () => void }[];
  child?: ChildProcess;
  cache?: ConfigCache;
}

/** Resolve once the service reported generation `target` or later. */
function reached(s: Service, target: number): Promise<void> {
  if (s.generation >= target) return Promise.resolve();
  return new Promise((resolve) => s.waiters.push({ target, resolve }));
}

/** Start the services: child processes when the compiled child exists, else caches in this process. */
async function startServices(ns: string, connect: () => Promise<NatsConnection>): Promise<{ services: Service[]; mode: string; stop(): Promise<void> }> {
  const services: Service[] = [];
  const seen = (s: Service, g: number) => {
    s.generation = g;
    const due = s.waiters.filter((w) => w.target <= g);
    s.waiters = s.waiters.filter((w) => w.target > g);
    for (const w of due) w.resolve();
  };
  if (existsSync(CHILD)) {
    for (let i = 0; i < PROPAGATION_SERVICES; i++) {
      const s: Service = { generation: 0, waiters: [] };
      const child = fork(CHILD, [JSON.stringify({ namespace: ns, servers: NATS_URL() })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      s.child = child;
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`config-lookups child exited with ${code}`)));
        child.on('message', (m: { ready?: number; generation?: number }) => {
          if (m.ready !== undefined) {
            s.generation = m.ready;
            resolve();
          } else if (m.generation !== undefined) seen(s, m.generation);
        });
      });
      services.push(s);
    }
    return {
      services,
      mode: `${PROPAGATION_SERVICES} child processes, each a ConfigCache on its own NATS connection`,
      stop: async () => {
        for (const s of services) {
          s.child?.removeAllListeners('exit');
          s.child?.disconnect();
        }
      },
    };
  }
  for (let i = 0; i < PROPAGATION_SERVICES; i++) {
    const cache = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 60_000, env: false });
    const s: Service = { generation: cache.generation, waiters: [], cache };
    cache.onChange((e) => seen(s, e.generation));
    services.push(s);
  }
  return {
    services,
    mode: `${PROPAGATION_SERVICES} ConfigCaches in the bench process, each on its own NATS connection (compiled child not found)`,
    stop: async () => {
      for (const s of services) await s.cache?.stop();
    },
  };
}

async function propagation(ctx: BenchContext, out: OutcomeBuilder, dir: string, stores: number): Promise<void> {
  const { ns, connect, stop } = await servedConfig(dir, `propagation-${stores}.yaml`, stores);
  const running = await startServices(ns, connect);
  const cli = await connect();
  try {
    const changes = ctx.quick ? 10 : 50;
    const total: number[] = [];
    const setRtt: number[] = [];
    ctx.log(`config-lookups: ${changes} config set → ${PROPAGATION_SERVICES} services, ${stores} datastores`);
    for (let i = 0; i < changes + 2; i++) {
      const t0 = performance.now();
      const r = await requestConfigChange(cli, ns, { op: 'set', path: 'capacity', value: `${1000 + i}MiB` });
      const t1 = performance.now();
      await Promise.all(running.services.map((s) => reached(s, r.generation)));
      const t2 = performance.now();
      if (i < 2) continue; // warm-up
      setRtt.push(t1 - t0);
      total.push(t2 - t0);
    }
    const c = `config set → all ${PROPAGATION_SERVICES} services on the new generation (${stores} datastores)`;
    out.row({
      case: c,
      system: 'config-service + ConfigCaches (broadcast, one fetch each)',
      link: LOCAL_LINK,
      figures: [
        fig('p50', percentile(total, 50), 'ms', 'lower'),
        fig('p99', percentile(total, 99), 'ms', 'lower'),
        fig('mean', total.reduce((a, b) => a + b, 0) / total.length, 'ms', 'lower'),
        fig('set reply p50', percentile(setRtt, 50), 'ms', 'lower'),
      ],
      note: `${changes} changes of capacity (after 2 warm-up); from sending the set request (validate, history, temp file + fsync + rename, broadcast) until all ${PROPAGATION_SERVICES} report the new generation; ${running.mode}`,
    });
  } finally {
    await running.stop();
    await stop();
  }
}

/** Config lookups: the ConfigCache hot path against parse-per-lookup (M×N table), and config change propagation to 5 services. */
export const configLookups: Scenario = {
  name: 'config-lookups',
  title: 'Config lookups: cached generation vs parse per lookup; change propagation',
  description:
    `(a) Datastore lookups against a config of ${CONFIG_DATASTORES} datastores: the ConfigCache hot path (a map read while the generation ` +
    'is current) against what a naive service does per lookup (read the YAML file, parse, validate with zod, look up), as an M×N table ' +
    '(M distinct datastores, N lookups each); higher lookups/s is better, the ratio is the speedup. (b) Time from `larder config set` ' +
    `until ${PROPAGATION_SERVICES} running services hold the new generation, p50 and p99; lower is better. Needs NATS (NATS_URL).`,
  async run(ctx) {
    const out = new OutcomeBuilder();
    const dir = path.join(ctx.workDir, 'config-lookups');
    await mkdir(dir, { recursive: true });
    try {
      await hotPathTable(ctx, out, dir);
      await propagation(ctx, out, dir, 2);
      await propagation(ctx, out, dir, CONFIG_DATASTORES);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return out.done();
  },
};
