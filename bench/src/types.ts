import type { LinkSpec } from './link.js';
import type { Fixtures } from './fixtures.js';
import type { LarderHook } from './larder-hook.js';
import type { RedisTarget } from './redis-bench.js';

/** Whether a bigger value of a figure is better. */
export type Better = 'higher' | 'lower';

/** One measured figure. */
export interface Figure {
  /** Metric name, e.g. `throughput`, `p99`, `GETs per chunk`. */
  metric: string;
  value: number;
  /** Unit, e.g. `MiB/s`, `ms`, `ops/s`. */
  unit: string;
  better?: Better;
}

/** One row of a scenario's table: one system measured on one case. */
export interface ResultRow {
  /** The case, e.g. `pbs (4 MiB chunks)`. */
  case: string;
  /** The system measured, e.g. `Larder`, `S3 direct, queue depth 1`. */
  system: string;
  /** The link it ran on (every row states it). */
  link: string;
  /** Figures; the first one is the row's headline (charted). */
  figures: Figure[];
  /** How it was measured (command line, sample size, ...). */
  note?: string;
  /** The S3 requests this row's run made and the data it moved (restored or backed up): the report's S3 cost table. */
  s3?: S3Usage;
}

/** S3 requests of one run by operation, bytes downloaded from S3, and the image bytes the run restored or backed up. */
export interface S3Usage {
  gets: number;
  heads: number;
  puts: number;
  lists: number;
  deletes: number;
  bytesDownloaded: number;
  dataBytes: number;
}

/** A ratio of two rows' figures measured in the same run. */
export interface Ratio {
  case: string;
  /** e.g. `Larder / S3 QD1`. */
  label: string;
  metric: string;
  value: number;
}

/** What a scenario returns. */
export interface ScenarioOutcome {
  rows: ResultRow[];
  ratios: Ratio[];
  /** Free-form remarks shown under the table (e.g. `Larder not wired: its rows are missing`). */
  notes: string[];
}

/** Sizes and time budgets of a run (small in quick mode). */
export interface RunSizes {
  /** Bytes of the test image (1 GiB; 32 MiB quick). */
  imageBytes: number;
  /** Time budget of a queue-depth-1 read, ms. */
  qd1BudgetMs: number;
  /** Time budget of each concurrency of the parallel-GET sweep, ms. */
  parallelBudgetMs: number;
  /** Concurrencies tried for the S3 side's limit. */
  concurrencies: number[];
  /** Bytes of the raw image read through nbdkit curl (it is slow: a prefix is enough for its steady rate). */
  curlReadBytes: number;
  /** How much of each image the fetcher-scaling scenario reads per run (a prefix). */
  scalingReadBytes: number;
  /** Seconds of each fio run. */
  fioRuntimeSec: number;
  /** Duration of each HTTP load run, ms. */
  loadDurationMs: number;
  /** Commands of the redis-benchmark run. */
  redisRequests: number;
  /** Repeats of warm reads (median reported). */
  warmRepeats: number;
}

/** What the harness hands every scenario. */
export interface BenchContext {
  readonly quick: boolean;
  readonly sizes: RunSizes;
  /** The WAN link between everything under test and S3. */
  readonly link: LinkSpec;
  /** {@link describeLink} of `link`. */
  readonly linkLabel: string;
  /** Scratch directory of this run (removed at the end unless --keep). */
  readonly workDir: string;
  /** Larder's stack, once the lead wires it in `larder-hook.ts`; undefined until then. */
  readonly larder: LarderHook | undefined;
  /** The shared fixtures (S3 behind the WAN proxy, uploaded images), created on first use. */
  fixtures(): Promise<Fixtures>;
  /** The Redis the index scenario measures (a private redis-server), started on first use. */
  redis(): Promise<RedisTarget & { url: string }>;
  /** Compute once per run and share between scenarios (e.g. the S3 side's limit). */
  memo<T>(key: string, compute: () => Promise<T>): Promise<T>;
  /** Progress line on stderr. */
  log(message: string): void;
}

/** A benchmark scenario, selectable by name. */
export interface Scenario {
  /** kebab-case name used on the command line. */
  name: string;
  /** One-line title. */
  title: string;
  /** What it measures and how to read it (shown by --list and in the report). */
  description: string;
  /** Commands it needs on PATH; the harness skips it with a note when one is missing. */
  needs?: readonly string[];
  run(ctx: BenchContext): Promise<ScenarioOutcome>;
}
