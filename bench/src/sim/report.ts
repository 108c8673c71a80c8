import { CHUNKING_LABEL, type ChunkingKind } from './chunking.js';
import { OPTIMAL } from './optimal.js';
import type { ReplayResult } from './replay.js';

/** Results of every policy at every size on one trace. */
export interface TraceResults {
  workload: string;
  chunking: ChunkingKind;
  description: string;
  refs: number;
  uniqueChunks: number;
  uniqueBytes: number;
  results: ReplayResult[];
}

/** The report `pnpm sim` writes as JSON. */
export interface SimReport {
  generatedAt: string;
  /** The policies the issue asks for (full tables); any others are parameter variants (a table of Δ only). */
  mainPolicies: string[];
  traces: TraceResults[];
  decision: Decision;
  /** Traces that could not be replayed (e.g. the public trace not fetched), with why. */
  missing: string[];
}

/** How a policy compares with LRU, and the verdict. */
export interface Decision {
  /** Workloads the target's "≥ 10% fewer misses" applies to. */
  targetWorkloads: string[];
  /** Cache shares the target's "≥ 10% fewer misses" applies to. */
  targetShares: number[];
  candidates: { policy: string; minReductionOnTarget: number; meanReductionOnTarget: number; worstIncrease: number; worstCase: string; meetsTarget: boolean }[];
  winner: string;
  why: string;
}

const REQUIRED_REDUCTION = 0.1;
const ALLOWED_INCREASE = 0.02;

/** Misses saved against LRU as a fraction of LRU's misses (positive = fewer misses). */
function reduction(lru: ReplayResult, other: ReplayResult): number {
  return lru.misses === 0 ? (other.misses === 0 ? 0 : -1) : (lru.misses - other.misses) / lru.misses;
}

/** Judge each policy but LRU and the OPT bound against the issue's target; the winner meets it with the largest mean reduction (else LRU stays). */
export function decide(traces: TraceResults[], targetWorkloads: string[], targetShares: number[]): Decision {
  const policies = [...new Set(traces.flatMap((t) => t.results.map((r) => r.policy)))].filter((p) => p !== 'LRU' && p !== OPTIMAL);
  const candidates = policies.map((policy) => {
    const onTarget: number[] = [];
    let worstIncrease = 0;
    let worstCase = 'none';
    for (const t of traces) {
      for (const r of t.results.filter((x) => x.policy === policy)) {
        const lru = t.results.find((x) => x.policy === 'LRU' && x.share === r.share) as ReplayResult;
        const red = reduction(lru, r);
        if (targetWorkloads.includes(t.workload) && targetShares.includes(r.share)) onTarget.push(red);
        if (-red > worstIncrease) {
          worstIncrease = -red;
          worstCase = `${t.workload}, ${CHUNKING_LABEL[t.chunking]}, ${pct(r.share, 0)}`;
        }
      }
    }
    const minReductionOnTarget = onTarget.length ? Math.min(...onTarget) : 0;
    const meanReductionOnTarget = onTarget.length ? onTarget.reduce((s, v) => s + v, 0) / onTarget.length : 0;
    const meetsTarget = onTarget.length > 0 && minReductionOnTarget >= REQUIRED_REDUCTION && worstIncrease <= ALLOWED_INCREASE;
    return { policy, minReductionOnTarget, meanReductionOnTarget, worstIncrease, worstCase, meetsTarget };
  });
  const best = candidates.filter((c) => c.meetsTarget).sort((a, b) => b.meanReductionOnTarget - a.meanReductionOnTarget)[0];
  const why = best
    ? `${best.policy} has at least ${pct(best.minReductionOnTarget)} fewer misses than LRU on ${targetWorkloads.join(' and ')} at ${targetShares.map((s) => pct(s, 0)).join(', ')} of the working set (mean ${pct(best.meanReductionOnTarget)}), and is never worse than LRU by more than ${pct(best.worstIncrease)} (worst: ${best.worstCase})`
    : `LRU stays: no policy has ≥ ${pct(REQUIRED_REDUCTION, 0)} fewer misses than LRU on ${targetWorkloads.join(' and ')} at ${targetShares.map((s) => pct(s, 0)).join(', ')} while staying within ${pct(ALLOWED_INCREASE, 0)} of LRU everywhere`;
  return { targetWorkloads, targetShares, candidates, winner: best?.policy ?? 'LRU', why };
}

function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(0)} KiB`;
}

/** The markdown report: the decision, a miss-ratio summary, then GETs and bytes per trace. */
export function markdown(report: SimReport): string {
  const lines: string[] = [];
  const policies = [...new Set(report.traces.flatMap((t) => t.results.map((r) => r.policy)))];
  lines.push('# Eviction policies on block traces (`pnpm sim`)', '');
  lines.push(`Generated ${report.generatedAt} by \`bench/src/sim\` (trace-driven, deterministic). A miss is one S3 GET of a whole chunk.`, '');
  lines.push('## Decision', '');
  lines.push(`**Winner: ${report.decision.winner}.** ${report.decision.why}. Why each policy wins or loses where: bench/README.md, "Eviction simulator".`, '');
  lines.push('| Policy | Min. fewer misses than LRU (target traces and sizes) | Mean | Worst increase over LRU anywhere | Where | Meets target |');
  lines.push('| --- | ---: | ---: | ---: | --- | --- |');
  for (const c of report.decision.candidates) {
    lines.push(`| ${c.policy} | ${pct(c.minReductionOnTarget)} | ${pct(c.meanReductionOnTarget)} | ${pct(c.worstIncrease)} | ${c.worstCase} | ${c.meetsTarget ? 'yes' : 'no'} |`);
  }
  lines.push('');
  if (report.missing.length) lines.push(...report.missing.map((m) => `- Not replayed: ${m}`), '');
  const main = policies.filter((p) => report.mainPolicies.includes(p));
  const variants = policies.filter((p) => !report.mainPolicies.includes(p));
  const delta = (lru: ReplayResult, r: ReplayResult): string => (lru.misses ? `${r.misses <= lru.misses ? '−' : '+'}${pct(Math.abs(reduction(lru, r)))}` : '–');
  const rows = (t: TraceResults): { share: number; lru: ReplayResult; of: (p: string) => ReplayResult }[] =>
    [...new Set(t.results.map((r) => r.share))].map((share) => {
      const row = t.results.filter((r) => r.share === share);
      return { share, lru: row.find((r) => r.policy === 'LRU') as ReplayResult, of: (p: string) => row.find((x) => x.policy === p) as ReplayResult };
    });
  lines.push('## Miss ratio', '', "Chunk references that missed, by policy; cache size as a share of the trace's working set (distinct bytes). Δ = misses against LRU.", '');
  lines.push(`| Trace | Chunking | Cache | ${main.map((p) => (p === 'LRU' ? p : `${p} | Δ`)).join(' | ')} |`);
  lines.push(`| --- | --- | ---: | ${main.map((p) => (p === 'LRU' ? '---:' : '---: | ---:')).join(' | ')} |`);
  for (const t of report.traces) {
    for (const { share, lru, of } of rows(t)) {
      const cells = main.map((p) => (p === 'LRU' ? pct(lru.missRatio) : `${pct(of(p).missRatio)} | ${delta(lru, of(p))}`));
      lines.push(`| ${t.workload} | ${CHUNKING_LABEL[t.chunking]} | ${pct(share, 0)} (${bytes(lru.capacityBytes)}) | ${cells.join(' | ')} |`);
    }
  }
  if (variants.length) {
    lines.push(
      '',
      '## Parameter variants',
      '',
      "Misses against LRU (− fewer, + more) of variants of the same policies, to check that the verdict is not an artefact of the papers' defaults.",
      '',
    );
    lines.push(`| Trace | Chunking | Cache | ${variants.join(' | ')} |`, `| --- | --- | ---: | ${variants.map(() => '---:').join(' | ')} |`);
    for (const t of report.traces) {
      for (const { share, lru, of } of rows(t))
        lines.push(`| ${t.workload} | ${CHUNKING_LABEL[t.chunking]} | ${pct(share, 0)} | ${variants.map((p) => delta(lru, of(p))).join(' | ')} |`);
    }
  }
  lines.push('', '## S3 GETs and bytes fetched', '');
  lines.push(`| Trace | Chunking | Cache | ${main.map((p) => `${p} GETs | ${p} fetched`).join(' | ')} |`);
  lines.push(`| --- | --- | ---: | ${main.map(() => '---: | ---:').join(' | ')} |`);
  for (const t of report.traces) {
    for (const share of [...new Set(t.results.map((r) => r.share))]) {
      const row = t.results.filter((r) => r.share === share);
      const cells = main.map((p) => {
        const r = row.find((x) => x.policy === p) as ReplayResult;
        return `${r.misses.toLocaleString('en')} | ${bytes(r.bytesFetched)}`;
      });
      lines.push(`| ${t.workload} | ${CHUNKING_LABEL[t.chunking]} | ${pct(share, 0)} | ${cells.join(' | ')} |`);
    }
  }
  lines.push('', '## Traces', '', '| Trace | Chunking | References | Distinct chunks | Working set | What |', '| --- | --- | ---: | ---: | ---: | --- |');
  for (const t of report.traces) {
    lines.push(
      `| ${t.workload} | ${CHUNKING_LABEL[t.chunking]} | ${t.refs.toLocaleString('en')} | ${t.uniqueChunks.toLocaleString('en')} | ${bytes(t.uniqueBytes)} | ${t.description} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
