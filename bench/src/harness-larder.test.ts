import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs } from './cli-args.js';
import { fakeLarderHook } from './fake-larder.js';
import { runBench } from './harness.js';
import { SCENARIOS } from './scenarios/index.js';
import { MiB } from './units.js';

/** True when every command is on PATH. */
function have(...cmds: string[]): boolean {
  try {
    for (const c of cmds) execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Command lines of live processes (other than this one) that mention `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const TOOLS = ['nbdkit', 'nbdcopy', 'nbdinfo', 'fio', 'nginx', 'redis-server', 'redis-benchmark', 'redis-cli'];

describe('every scenario with a stand-in Larder wired', () => {
  it.skipIf(!have(...TOOLS))(
    'produces Larder rows and ratios next to the baselines, and stops everything',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'larder-bench-fake-'));
      try {
        const report = await runBench({
          args: { ...parseArgs(['--quick']), workDir: dir },
          // config-lookups and gc measure Larder's own pieces (the config cache, the GC engine), not the hooked stack:
          // they have no Larder-vs-baseline rows (pnpm bench --quick runs them).
          scenarios: SCENARIOS.filter((s) => s.name !== 'config-lookups' && s.name !== 'gc'),
          larder: fakeLarderHook,
          log: () => undefined,
          sizes: {
            imageBytes: 8 * MiB,
            qd1BudgetMs: 200,
            parallelBudgetMs: 200,
            concurrencies: [4, 16],
            curlReadBytes: MiB,
            scalingReadBytes: MiB,
            fioRuntimeSec: 1,
            loadDurationMs: 1000,
            redisRequests: 10_000,
            warmRepeats: 1,
          },
        });
        for (const s of report.scenarios) {
          expect({ name: s.name, status: s.status, error: s.error }).toEqual({ name: s.name, status: 'ok', error: undefined });
          // The stand-in serves no S3 endpoint: seed-backup measures its baselines and says why Larder's rows are missing.
          if (s.name === 'seed-backup') {
            expect(s.notes.join(' ')).toMatch(/S3 endpoint is not available/);
            continue;
          }
          expect(
            s.rows.some((r) => /larder/i.test(r.system)),
            s.name,
          ).toBe(true);
          expect(s.rows.every((r) => r.link.length > 0)).toBe(true);
        }
        const byName = new Map(report.scenarios.map((s) => [s.name, s]));
        expect(byName.get('cold-restore')?.ratios.map((r) => r.label)).toContain('(a) Larder / (b) S3 QD1');
        const sf = byName.get('single-flight');
        const larderGets = sf?.rows.filter((r) => /larder/i.test(r.system)).map((r) => r.figures[0]?.value);
        expect(larderGets).toEqual([1, 1]);
        // Both images (ext4 first, then random) × both formats × 1/2/4 fetchers.
        expect(byName.get('fetcher-scaling')?.rows.filter((r) => /larder/i.test(r.system))).toHaveLength(12);
        const cold = byName.get('cold-restore')?.rows.filter((r) => /larder/i.test(r.system)) ?? [];
        expect(cold.map((r) => r.case.split(',')[0])).toEqual(['ext4 image', 'ext4 image', 'random image', 'random image']);
        expect(cold.every((r) => r.figures.some((f) => f.metric === 'CPU gateway' && f.unit === 's/GiB'))).toBe(true);
        expect(byName.get('index-throughput')?.ratios).toHaveLength(2);
        expect(processesMentioning(dir)).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
