import type { RunReport, ScenarioReport } from './run-report.js';
import { formatValue } from './svg-chart.js';
import type { ResultRow } from './types.js';
import { s3CostTable } from './s3-cost-table.js';
import { formatBytes } from './units.js';

/** Escape a table cell (pipes and newlines). */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Column headers (metric and unit) of a set of rows, in first-seen order. */
function columns(rows: readonly ResultRow[]): { metric: string; unit: string }[] {
  const seen = new Map<string, { metric: string; unit: string }>();
  for (const r of rows) for (const f of r.figures) if (!seen.has(f.metric)) seen.set(f.metric, { metric: f.metric, unit: f.unit });
  return [...seen.values()];
}

/** Markdown table of a scenario's rows. */
export function rowsTable(rows: readonly ResultRow[]): string {
  const cols = columns(rows);
  const head = ['Case', 'System', ...cols.map((c) => `${c.metric} (${c.unit})`), 'Link', 'How'];
  const lines = [`| ${head.map(cell).join(' | ')} |`, `|${head.map((_, i) => (i >= 2 && i < 2 + cols.length ? ' ---: ' : ' --- ')).join('|')}|`];
  for (const r of rows) {
    const values = cols.map((c) => {
      const f = r.figures.find((x) => x.metric === c.metric);
      return f ? formatValue(f.value) : '';
    });
    lines.push(`| ${[r.case, r.system, ...values, r.link, r.note ?? ''].map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Markdown section of one scenario. */
export function scenarioSection(s: ScenarioReport, chartFile: string | undefined): string {
  const parts = [`## ${s.name}: ${s.title}`, '', s.description, ''];
  if (s.status !== 'ok') parts.push(`**${s.status.toUpperCase()}**: ${s.error ?? ''}`, '');
  if (chartFile) parts.push(`![${s.name}](${chartFile})`, '');
  if (s.rows.length) parts.push(rowsTable(s.rows), '');
  const cost = s3CostTable(s.rows);
  if (cost) parts.push(cost, '');
  if (s.ratios.length) {
    parts.push('| Case | Ratio | Of | Value |', '| --- | --- | --- | ---: |');
    for (const r of s.ratios) parts.push(`| ${cell(r.case)} | ${cell(r.label)} | ${cell(r.metric)} | ${formatValue(r.value)}× |`);
    parts.push('');
  }
  for (const n of s.notes) parts.push(`- ${n}`);
  if (s.notes.length) parts.push('');
  parts.push(`_Ran in ${s.durationSec.toFixed(1)} s._`, '');
  return parts.join('\n');
}

/** The whole Markdown report of a run; `charts` maps scenario name to its SVG file name. */
export function markdownReport(report: RunReport, charts: ReadonlyMap<string, string>): string {
  const m = report.machine;
  const head = [
    `# Larder benchmark${report.quick ? ' (quick)' : ''}`,
    '',
    `Run ${report.startedAt}, ${report.durationSec.toFixed(0)} s${report.quick ? ', **quick mode: small data, figures prove the harness only**' : ''}.`,
    '',
    `- Link to S3: **${report.link.label}** (plus one round trip to open a connection); rows marked local ran without it.`,
    `- Images: ${formatBytes(report.sizes.imageBytes)} each — a realistic ext4 filesystem (the main case: logs, media, repeated files and free space; its compression is in the restore scenarios' notes) and random data (incompressible, the second case) — each as a pbs store (4 MiB chunks) and a casync store (~64 KiB chunks), and as one raw object.`,
    `- Machine: ${m.cpus} cores, ${m.memoryGiB.toFixed(0)} GiB, ${m.platform} ${m.kernel}, Node ${m.node}.`,
    `- Tools: ${Object.entries(report.tools)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    `- Larder: ${report.larderWired ? 'wired' : '**not wired yet: baselines only**'}.`,
    '',
    '| Scenario | Status | Time (s) |',
    '| --- | --- | ---: |',
    ...report.scenarios.map((s) => `| ${s.name} | ${s.status} | ${s.durationSec.toFixed(1)} |`),
    '',
  ];
  return [...head, ...report.scenarios.map((s) => scenarioSection(s, charts.get(s.name)))].join('\n');
}
