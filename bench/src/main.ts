import { fileURLToPath } from 'node:url';
import { parseArgs, USAGE } from './cli-args.js';
import { runBench } from './harness.js';
import { larderHook } from './larder-hook.js';
import { findScenario, SCENARIOS } from './scenarios/index.js';
import type { Scenario } from './types.js';
import { writeResults } from './write-results.js';

/** `pnpm bench [--quick] [--list] [SCENARIO...]`: run scenarios and write bench/results. */
async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(18)} ${s.title}\n${' '.repeat(19)}${s.description}\n\n`);
    return 0;
  }
  const unknown = args.scenarios.filter((n) => !findScenario(n));
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const selected: Scenario[] = args.scenarios.length ? SCENARIOS.filter((s) => args.scenarios.includes(s.name)) : [...SCENARIOS];
  const report = await runBench({ args, scenarios: selected, larder: larderHook });
  const dir = args.out ?? fileURLToPath(new URL(args.quick ? '../results/quick' : '../results', import.meta.url));
  const written = await writeResults(
    dir,
    report,
    SCENARIOS.map((s) => s.name),
  );
  process.stderr.write(`results: ${written.markdown}, ${written.json}, ${written.runJson}${written.charts.length ? `, ${written.charts.length} charts` : ''}\n`);
  const failed = report.scenarios.filter((s) => s.status === 'failed');
  if (failed.length) process.stderr.write(`failed: ${failed.map((s) => s.name).join(', ')}\n`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  },
);
