import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { markdownReport } from './markdown-report.js';
import type { RunReport, ScenarioReport } from './run-report.js';
import { barChartSvg } from './svg-chart.js';

/** Files a run wrote. */
export interface WrittenResults {
  json: string;
  runJson: string;
  markdown: string;
  charts: string[];
}

/** Merge a run into the previous latest report: scenarios run now replace theirs, the others are kept (each says when it ran), in `order`. */
export function mergeReports(previous: RunReport | undefined, current: RunReport, order: readonly string[]): RunReport {
  if (!previous || previous.quick !== current.quick) return current;
  const stamp = (r: RunReport) => r.scenarios.map((s) => ({ ...s, ranAt: (s as ScenarioReport & { ranAt?: string }).ranAt ?? r.startedAt }));
  const byName = new Map<string, ScenarioReport>();
  for (const s of stamp(previous)) byName.set(s.name, s);
  for (const s of stamp(current)) byName.set(s.name, s);
  const rank = (n: string) => (order.indexOf(n) < 0 ? order.length : order.indexOf(n));
  return { ...current, scenarios: [...byName.values()].sort((a, b) => rank(a.name) - rank(b.name)) };
}

/** Write `runs/<timestamp>.json`, `latest.json` (merged with the previous latest), `latest.md` and one `<scenario>.svg` per scenario under `dir`. */
export async function writeResults(dir: string, report: RunReport, order: readonly string[]): Promise<WrittenResults> {
  await mkdir(join(dir, 'runs'), { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const runJson = join(dir, 'runs', `${stamp}.json`);
  await writeFile(runJson, `${JSON.stringify(report, null, 2)}\n`);
  const latestPath = join(dir, 'latest.json');
  let previous: RunReport | undefined;
  try {
    previous = JSON.parse(await readFile(latestPath, 'utf8')) as RunReport;
  } catch {
    previous = undefined;
  }
  const merged = mergeReports(previous, report, order);
  await writeFile(latestPath, `${JSON.stringify(merged, null, 2)}\n`);
  const charts = new Map<string, string>();
  const chartPaths: string[] = [];
  for (const s of merged.scenarios) {
    const svg = barChartSvg(`${s.name}: ${s.title}`, s.rows);
    if (!svg) continue;
    const file = `${s.name}.svg`;
    charts.set(s.name, file);
    if (report.scenarios.some((r) => r.name === s.name)) {
      await writeFile(join(dir, file), svg);
      chartPaths.push(join(dir, file));
    }
  }
  const markdown = join(dir, 'latest.md');
  await writeFile(markdown, markdownReport(merged, charts));
  return { json: latestPath, runJson, markdown, charts: chartPaths };
}
