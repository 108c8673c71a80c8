import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import type { CliArgs } from './cli-args.js';
import { createFixtures } from './fixtures.js';
import type { Fixtures } from './fixtures.js';
import type { LarderHook } from './larder-hook.js';
import { describeLink, makeLink } from './link.js';
import { killAllChildren } from './processes.js';
import { ext4Image } from './scenarios/common.js';
import { startPrivateRedis } from './redis-bench.js';
import type { PrivateRedis } from './redis-bench.js';
import type { RunReport, ScenarioReport } from './run-report.js';
import { FULL_SIZES, QUICK_SIZES } from './sizes.js';
import { missingTools, toolVersions } from './tools.js';
import type { BenchContext, RunSizes, Scenario } from './types.js';

/** Options of {@link runBench}. */
export interface RunBenchOptions {
  args: CliArgs;
  scenarios: readonly Scenario[];
  larder: LarderHook | undefined;
  /** Progress output (default: stderr). */
  log?: (line: string) => void;
  /** Override the sizes of the mode (tests use tiny ones). */
  sizes?: RunSizes;
}

/** Run the selected scenarios one after the other with shared fixtures; every process and server started is stopped at the end. */
export async function runBench(opts: RunBenchOptions): Promise<RunReport> {
  const { args } = opts;
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const sizes = opts.sizes ?? (args.quick ? QUICK_SIZES : FULL_SIZES);
  const link = makeLink(args.latencyMs, args.bandwidthMiB);
  const linkLabel = describeLink(link);
  const write = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = (m: string) => write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}`);
  const parent = args.workDir ?? process.env.LARDER_BENCH_WORKDIR ?? os.tmpdir();
  const workDir = await mkdtemp(join(parent, 'larder-bench-'));
  const memo = new Map<string, Promise<unknown>>();
  let fixtures: Promise<Fixtures> | undefined;
  let redis: Promise<PrivateRedis> | undefined;
  const ctx: BenchContext = {
    quick: args.quick,
    sizes,
    link,
    linkLabel,
    workDir,
    larder: opts.larder,
    fixtures: () => (fixtures ??= createFixtures({ workDir, imageBytes: sizes.imageBytes, link, larder: opts.larder, ext4Image: () => ext4Image(ctx), log })),
    redis: () => (redis ??= startPrivateRedis(join(workDir, 'redis'))),
    memo: <T>(key: string, compute: () => Promise<T>): Promise<T> => {
      let p = memo.get(key) as Promise<T> | undefined;
      if (!p) {
        p = compute();
        memo.set(key, p);
      }
      return p;
    },
    log,
  };
  const cleanup = async () => {
    const fx = await fixtures?.catch(() => undefined);
    await fx?.s3.stop().catch(() => undefined);
    const r = await redis?.catch(() => undefined);
    await r?.stop().catch(() => undefined);
    killAllChildren();
    if (!args.keep) await rm(workDir, { recursive: true, force: true });
    else log(`scratch data kept in ${workDir}`);
  };
  const onSignal = () => {
    log('interrupted: stopping everything');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const reports: ScenarioReport[] = [];
  let s3Isolated: boolean | undefined;
  try {
    log(`link: ${linkLabel}; ${args.quick ? 'quick' : 'full'} run; scratch ${workDir}; Larder ${opts.larder ? 'wired' : 'not wired'}`);
    for (const s of opts.scenarios) {
      const st = performance.now();
      const base = { name: s.name, title: s.title, description: s.description };
      const missing = await missingTools(s.needs ?? []);
      if (missing.length) {
        log(`${s.name}: skipped, missing ${missing.join(', ')}`);
        reports.push({ ...base, status: 'skipped', error: `missing ${missing.join(', ')} (run bench/scripts/install-tools.sh)`, durationSec: 0, rows: [], ratios: [], notes: [] });
        continue;
      }
      log(`${s.name}: start`);
      try {
        const outcome = await s.run(ctx);
        reports.push({ ...base, status: 'ok', durationSec: (performance.now() - st) / 1000, ...outcome });
        log(`${s.name}: done in ${((performance.now() - st) / 1000).toFixed(1)} s`);
      } catch (err) {
        const e = err as Error;
        log(`${s.name}: FAILED: ${e.stack ?? e.message}`);
        reports.push({ ...base, status: 'failed', error: e.message, durationSec: (performance.now() - st) / 1000, rows: [], ratios: [], notes: [] });
      }
    }
    const fx = await fixtures?.catch(() => undefined);
    s3Isolated = fx?.s3.isolated;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
  return {
    startedAt,
    durationSec: (performance.now() - t0) / 1000,
    quick: args.quick,
    link: { ...link, label: linkLabel },
    sizes,
    machine: { cpus: os.cpus().length, memoryGiB: os.totalmem() / 2 ** 30, node: process.versions.node, platform: os.platform(), kernel: os.release() },
    tools: await toolVersions(),
    larderWired: opts.larder !== undefined,
    ...(s3Isolated === undefined ? {} : { s3Isolated }),
    scenarios: reports,
  };
}
