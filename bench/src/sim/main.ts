import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChunkingKind } from './chunking.js';
import { POLICIES, POLICY_VARIANTS, type PolicyFactory } from './policies/index.js';
import { OPTIMAL, replayOptimal } from './optimal.js';
import { CACHE_SHARES, replay } from './replay.js';
import { reuseDistances, reuseReport } from './reuse.js';
import { type SimReport, type TraceResults, decide, markdown } from './report.js';
import type { Trace } from './trace.js';
import { CLOUDPHYSICS_SAMPLE, type PublicTraceFile, fetchCloudPhysics, publicTrace } from './traces/public.js';
import { SYNTHETIC_WORKLOADS, syntheticTrace } from './traces/synthetic.js';

const BENCH = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CACHED_SAMPLE = join(BENCH, '.cache/sim/cloudPhysicsIO.csv');

const USAGE = `Usage: pnpm sim [--fetch] [--variants] [--reuse] [--trace FORMAT:PATH]... [--out DIR]

Replays block traces against eviction policies (LRU, S3-FIFO, 2Q, ARC, W-TinyLFU, adaptive S3-FIFO, LIRS, SIEVE,
LRU with a scan hint; and Belady's OPT as a bound) at 1%, 5%, 10% and 25% of each trace's working set
and writes latest.md and latest.json to DIR (default bench/results/sim). Works offline on the synthetic traces; the
public CloudPhysics sample is replayed when it is in bench/.cache/sim (put there by --fetch).

  --fetch               download the public CloudPhysics sample (about 3 MB) first
  --variants            also replay parameter variants of S3-FIFO, 2Q, W-TinyLFU, LIRS, DIP (about twice as long)
  --reuse               instead of replaying policies, print where LRU misses (first references, reuse distance
                        in capacities) and how often a reuse LRU misses follows simple signals, at 5-25%
  --trace FORMAT:PATH   also replay a local block trace; FORMAT is msr (MSR Cambridge CSV, e.g. from SNIA IOTTA,
                        .csv or .csv.gz) or cloudphysics (CSV version,time,op,size,lbn)
  --out DIR             where the report goes
`;

interface Args {
  fetch: boolean;
  variants: boolean;
  reuse: boolean;
  traces: PublicTraceFile[];
  out: string;
}

function parseArgs(argv: readonly string[]): Args | undefined {
  const args: Args = { fetch: false, variants: false, reuse: false, traces: [], out: join(BENCH, 'results/sim') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') continue;
    if (a === '--help' || a === '-h') return undefined;
    if (a === '--fetch') args.fetch = true;
    else if (a === '--variants') args.variants = true;
    else if (a === '--reuse') args.reuse = true;
    else if (a === '--out') args.out = resolve(argv[++i] ?? '');
    else if (a === '--trace') {
      const spec = argv[++i] ?? '';
      const m = /^(msr|cloudphysics):(.+)$/.exec(spec);
      if (!m) throw new Error(`--trace needs FORMAT:PATH with FORMAT msr or cloudphysics, got ${JSON.stringify(spec)}`);
      const path = resolve(m[2] as string);
      if (!existsSync(path)) throw new Error(`--trace ${spec}: no such file`);
      const name = path.replace(/^.*\//, '').replace(/\.csv(\.gz)?$/, '');
      args.traces.push({ path, format: m[1] as PublicTraceFile['format'], name, source: `${m[1]} trace ${name}` });
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function results(trace: Trace, policies: readonly { name: string; make: PolicyFactory }[]): TraceResults {
  const t0 = performance.now();
  const out = [...policies.flatMap((p) => CACHE_SHARES.map((s) => replay(trace, p, s))), ...CACHE_SHARES.map((s) => replayOptimal(trace, s))];
  process.stdout.write(`  ${trace.workload} (${trace.chunking}): ${trace.refs.length.toLocaleString('en')} refs in ${Math.round(performance.now() - t0)} ms\n`);
  return {
    workload: trace.workload,
    chunking: trace.chunking,
    description: trace.description,
    refs: trace.refs.length,
    uniqueChunks: trace.sizes.length,
    uniqueBytes: trace.uniqueBytes,
    results: out,
  };
}

function printReuse(trace: Trace): void {
  const distances = reuseDistances(trace);
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  for (const share of [0.05, 0.1, 0.25]) {
    const r = reuseReport(trace, distances, share);
    const m = r.missesBy;
    const l = r.longReuse;
    process.stdout.write(
      `${trace.workload} (${trace.chunking}) ${pct(share)}: LRU misses ${r.lruMisses}: first refs ${pct(m.cold)}, reuse <2x ${pct(m.upTo2x)}, 2-4x ${pct(m.upTo4x)}, 4-8x ${pct(m.upTo8x)}, >8x ${pct(m.beyond8x)}; ` +
        `P(reuse in 1-4x): all ${pct(l.all)}, first reuse ${pct(l.firstReuse)}, previous also 1-4x ${pct(l.previousAlsoLong)}, >=8 earlier refs ${pct(l.eightPlusEarlierRefs)}\n`,
    );
  }
}

async function main(): Promise<void> {
  let args: Args | undefined;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (!args) {
    process.stdout.write(USAGE);
    return;
  }
  const missing: string[] = [];
  if (args.fetch) {
    try {
      await fetchCloudPhysics(CACHED_SAMPLE);
    } catch (err) {
      process.stderr.write(`could not fetch the public trace sample: ${(err as Error).message}${(err as Error).cause ? ` (${String((err as Error).cause)})` : ''}\n`);
      process.exit(1);
    }
  }
  const publicFiles = [...args.traces];
  if (existsSync(CACHED_SAMPLE)) publicFiles.unshift({ path: CACHED_SAMPLE, format: 'cloudphysics', name: CLOUDPHYSICS_SAMPLE.name, source: CLOUDPHYSICS_SAMPLE.source });
  else missing.push('the public CloudPhysics sample (run `pnpm sim --fetch` to download it to bench/.cache/sim/)');

  const chunkings: ChunkingKind[] = ['fixed4m', 'cdc64k'];
  if (args.reuse) {
    for (const file of publicFiles) for (const c of chunkings) printReuse(await publicTrace(file, c));
    for (const w of SYNTHETIC_WORKLOADS) for (const c of chunkings) printReuse(syntheticTrace(w, c));
    return;
  }
  const policies = args.variants ? [...POLICIES, ...POLICY_VARIANTS] : POLICIES;
  const traces: TraceResults[] = [];
  for (const file of publicFiles) for (const c of chunkings) traces.push(results(await publicTrace(file, c), policies));
  for (const w of SYNTHETIC_WORKLOADS) for (const c of chunkings) traces.push(results(syntheticTrace(w, c), policies));

  const targetWorkloads = ['mixed', ...publicFiles.map((f) => f.name)];
  const report: SimReport = {
    generatedAt: new Date().toISOString(),
    mainPolicies: [...POLICIES.map((p) => p.name), OPTIMAL],
    traces,
    decision: decide(traces, targetWorkloads, [0.05, 0.1, 0.25]),
    missing,
  };
  await mkdir(args.out, { recursive: true });
  await writeFile(join(args.out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(args.out, 'latest.md'), markdown(report));
  process.stdout.write(`winner: ${report.decision.winner} — ${report.decision.why}\nwrote ${join(args.out, 'latest.md')}\n`);
}

await main();
