import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBench } from './harness.js';
import { parseArgs } from './cli-args.js';
import { fig, OutcomeBuilder } from './outcome.js';
import { barChartSvg } from './svg-chart.js';
import { markdownReport } from './markdown-report.js';
import { mergeReports, writeResults } from './write-results.js';
import type { Scenario } from './types.js';
import type { RunReport } from './run-report.js';
import { SCENARIOS } from './scenarios/index.js';

/** A scenario that measures nothing real, to exercise the harness plumbing. */
const fake = (name: string, value: number): Scenario => ({
  name,
  title: `fake ${name}`,
  description: 'test scenario',
  needs: [],
  async run(ctx) {
    const out = new OutcomeBuilder();
    const a = out.row({ case: 'c', system: 'baseline', link: ctx.linkLabel, figures: [fig('throughput', value, 'MiB/s', 'higher')] });
    const b = out.row({ case: 'c', system: 'Larder', link: ctx.linkLabel, figures: [fig('throughput', 2 * value, 'MiB/s', 'higher'), fig('p99', 3, 'ms', 'lower')] });
    out.ratio('c', 'Larder / baseline', 'throughput', b, a);
    out.ratio('c', 'missing', 'p99', b, a);
    out.note('a note');
    return out.done();
  },
});

describe('report', () => {
  it('runs scenarios, writes JSON, Markdown and SVG, and merges partial runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'larder-bench-report-'));
    try {
      const lines: string[] = [];
      const broken: Scenario = {
        name: 'broken',
        title: 'broken',
        description: 'fails',
        async run() {
          throw new Error('boom');
        },
      };
      const missing: Scenario = { ...fake('missing', 1), needs: ['no-such-command-larder'] };
      const args = { ...parseArgs(['--quick']), workDir: dir };
      const report = await runBench({ args, scenarios: [fake('one', 10), broken, missing], larder: undefined, log: (l) => lines.push(l) });
      expect(report.scenarios.map((s) => s.status)).toEqual(['ok', 'failed', 'skipped']);
      const one = report.scenarios[0];
      expect(one?.ratios).toEqual([{ case: 'c', label: 'Larder / baseline', metric: 'throughput', value: 2 }]);
      expect(report.link.label).toMatch(/^WAN 20 ms/);
      const out = join(dir, 'results');
      const order = ['one', 'two', 'broken', 'missing'];
      const w = await writeResults(out, report, order);
      const md = await readFile(w.markdown, 'utf8');
      expect(md).toContain('| c | Larder | 20.0 | 3.00 |');
      expect(md).toContain('| c | Larder / baseline | throughput | 2.00× |');
      expect(md).toContain('**FAILED**: boom');
      expect(md).toContain('![one](one.svg)');
      const svg = await readFile(join(out, 'one.svg'), 'utf8');
      expect(svg).toMatch(/^<svg /);
      // A later partial run replaces only its own scenarios.
      const second = await runBench({ args, scenarios: [fake('two', 5)], larder: undefined, log: () => undefined });
      await writeResults(out, second, order);
      const latest = JSON.parse(await readFile(join(out, 'latest.json'), 'utf8')) as RunReport;
      expect(latest.scenarios.map((s) => s.name)).toEqual(['one', 'two', 'broken', 'missing']);
      expect(lines.some((l) => l.includes('broken: FAILED'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('draws one panel per case and escapes text', () => {
    const svg = barChartSvg('t <&>', [
      { case: 'a', system: 'x', link: 'l', figures: [fig('m', 1, 'u')] },
      { case: 'b', system: 'Larder', link: 'l', figures: [fig('m', 2, 'u')] },
    ]);
    expect(svg).toContain('t &lt;&amp;&gt;');
    expect(svg?.match(/<rect x=/g)?.length).toBe(2);
    expect(barChartSvg('empty', [])).toBeUndefined();
  });

  it('keeps a previous report of another mode out of the merge', () => {
    const base = { quick: true, scenarios: [] } as unknown as RunReport;
    const full = { ...base, quick: false };
    expect(mergeReports(base, full, [])).toBe(full);
    expect(
      markdownReport(
        {
          ...full,
          startedAt: 'now',
          durationSec: 1,
          link: { latencyMs: 1, bandwidthBytesPerSec: 1, handshakeMs: 2, label: 'L' },
          sizes: { imageBytes: 1 } as RunReport['sizes'],
          machine: { cpus: 2, memoryGiB: 1, node: '20', platform: 'linux', kernel: 'k' },
          tools: {},
          larderWired: false,
        },
        new Map(),
      ),
    ).toContain('not wired yet');
  });

  it('registers every scenario of the issue under a unique kebab-case name', () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of ['cold-restore', 'warm-restore', 'mixed', 'chunk-hits', 'single-flight', 'fetcher-scaling', 'index-throughput', 'memory']) expect(names).toContain(n);
    for (const n of names) expect(n).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });
});
