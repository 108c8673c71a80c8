import type { LinkSpec } from './link.js';
import type { RunSizes, ScenarioOutcome } from './types.js';

/** One scenario's part of a run report. */
export interface ScenarioReport extends ScenarioOutcome {
  name: string;
  title: string;
  description: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  error?: string;
  durationSec: number;
}

/** Everything a run wrote: the JSON file is exactly this. */
export interface RunReport {
  startedAt: string;
  durationSec: number;
  quick: boolean;
  link: LinkSpec & { label: string };
  sizes: RunSizes;
  machine: { cpus: number; memoryGiB: number; node: string; platform: string; kernel: string };
  tools: Record<string, string>;
  larderWired: boolean;
  /** Whether S3 and the WAN proxy ran in their own process. */
  s3Isolated?: boolean;
  scenarios: ScenarioReport[];
}
