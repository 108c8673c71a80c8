import type { GcReport } from '@larder/bus';
import type { GcEngine } from '@larder/gc-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './test-stack.js';

/** Runs the engine started: store and apply. */
const started: [string, boolean][] = [];

/** A GC engine stand-in: reports a sweep of the cache at once, deletes nothing. */
const engine: GcEngine = {
  async runDatastore(store, opts): Promise<GcReport> {
    started.push([store.name, opts.apply]);
    const report: GcReport = {
      store: store.name,
      runId: opts.runId,
      apply: opts.apply,
      phase: 'mark',
      startedAt: Date.now(),
      done: 0,
      indexes: 2,
      referenced: 10,
      cacheChunks: 3,
      cacheBytes: 3 * 2 ** 20,
      s3Chunks: 0,
      s3Bytes: 0,
      keptByGrace: 0,
      keptByTouch: 0,
    };
    opts.onProgress(report);
    return { ...report, phase: 'done', finishedAt: Date.now(), s3Skipped: 'not owned' };
  },
};

let stack: TestStack;

beforeAll(async () => {
  // The config-service: a schedule set with `larder config set` reaches the gc-worker through its config cache.
  stack = await startTestStack({ gcEngine: engine, configService: true, gcScheduleCheckMs: 100 });
});
afterAll(() => stack?.cleanup());

interface GcSection {
  store: string;
  owned: boolean;
  running: object | null;
  last: { apply: boolean; phase: string; durationMs: number; cache: { chunks: number; bytes: number }; s3: { skipped: string | null } } | null;
}

describe('the stack runs a gc-worker; /v1/status and larder status show GC per datastore', () => {
  it('shows never-run datastores, then the last run', async () => {
    const before = (await (await fetch(`${stack.gateway()}/v1/status`)).json()) as { gc: GcSection[] };
    expect(before.gc).toEqual([
      { store: 'cas', owned: false, gcEveryMs: null, running: null, last: null },
      { store: 'demo', owned: false, gcEveryMs: null, running: null, last: null },
    ]);
    const run = await stack.cli(['gc', 'run', '--store', 'demo', '--apply']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/demo: GC done/);
    const after = (await (await fetch(`${stack.gateway()}/v1/status`)).json()) as { gc: GcSection[] };
    expect(after.gc.find((g) => g.store === 'demo')?.last).toMatchObject({ apply: true, phase: 'done', cache: { chunks: 3, bytes: 3 * 2 ** 20 }, s3: { skipped: 'not owned' } });
    const status = await stack.cli(['status']);
    expect(status.stdout).toMatch(/gc demo +last GC \S+ done in [\d.]+ s: reclaimed 3 chunks \(3(\.00?)? MiB\) from the cache, S3 not swept/);
    expect(status.stdout).toMatch(/gc cas +never run/);
    expect(status.stdout).toMatch(/gc-workers +1 online/);
  });

  it('runs an applied GC on the schedule a config change sets, once', async () => {
    expect(started.filter(([s]) => s === 'cas')).toEqual([]);
    const set = await stack.cli(['config', 'set', 'datastores.cas.gcEvery', '1h']);
    expect(set.code).toBe(0);
    const deadline = Date.now() + 30_000;
    while (!started.some(([s]) => s === 'cas') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(started.filter(([s]) => s === 'cas')).toEqual([['cas', true]]);
    await new Promise((r) => setTimeout(r, 500));
    expect(started.filter(([s]) => s === 'cas')).toHaveLength(1);
    const s = (await (await fetch(`${stack.gateway()}/v1/status`)).json()) as { gc: GcSection[] };
    expect(s.gc.find((g) => g.store === 'cas')).toMatchObject({ gcEveryMs: 3_600_000, last: { apply: true, phase: 'done' } });
  });
});
