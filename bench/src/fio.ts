import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './processes.js';
import { MiB } from './units.js';

/** One fio job against an NBD export (each job opens its own NBD connection). */
export interface FioJob {
  name: string;
  /** fio `rw`, e.g. `randread`, `read`. */
  rw: string;
  /** fio `bs` (e.g. `256k`) or `bsrange` (e.g. `4k-64k`). */
  bs?: string;
  bsrange?: string;
  iodepth: number;
}

/** Options of {@link runFioNbd}. */
export interface FioNbdOptions {
  /** NBD URI, e.g. `nbd://127.0.0.1:10809` or `nbd://127.0.0.1:10809/EXPORT`. */
  uri: string;
  /** fio `rw` (default `randread`). */
  rw?: string;
  /** fio `bsrange` (default `4k-64k`). */
  bsrange?: string;
  /** Queue depth (default 16). */
  iodepth?: number;
  /** Run time in seconds (time based; default 10). */
  runtimeSec?: number;
  /** Bytes of the export to address (default: the whole export as the server reports it). */
  sizeBytes?: number;
}

/** Figures of one fio job. */
export interface FioResult {
  iops: number;
  mibPerSec: number;
  /** Completion latency percentiles, ms. */
  p50Ms: number;
  p99Ms: number;
  ios: number;
  command: string;
}

interface FioJsonJob {
  jobname: string;
  error: number;
  read: { iops: number; bw_bytes: number; total_ios: number; clat_ns: { percentile?: Record<string, number> } };
}

/** Parse fio's JSON output into per-job read figures, by job name (text before the first `{`, such as the nbd engine's greeting, is skipped). */
export function parseFioJsonJobs(text: string): Map<string, Omit<FioResult, 'command'>> {
  const start = text.indexOf('{');
  if (start < 0) throw new Error('fio printed no JSON');
  const doc = JSON.parse(text.slice(start)) as { jobs: FioJsonJob[] };
  const out = new Map<string, Omit<FioResult, 'command'>>();
  for (const job of doc.jobs) {
    if (job.error) throw new Error(`fio job ${job.jobname} error ${job.error}`);
    const pct = job.read.clat_ns.percentile ?? {};
    out.set(job.jobname, {
      iops: job.read.iops,
      mibPerSec: job.read.bw_bytes / MiB,
      p50Ms: (pct['50.000000'] ?? Number.NaN) / 1e6,
      p99Ms: (pct['99.000000'] ?? Number.NaN) / 1e6,
      ios: job.read.total_ios,
    });
  }
  return out;
}

/** Parse fio's JSON output; figures of its first job. */
export function parseFioJson(text: string): Omit<FioResult, 'command'> {
  const first = parseFioJsonJobs(text).values().next();
  if (first.done) throw new Error('fio JSON has no job');
  return first.value;
}

/** True when this fio has the nbd engine (`fio --enghelp=nbd`). */
export async function fioHasNbd(): Promise<boolean> {
  try {
    const r = await runCommand('fio', ['--enghelp=nbd'], { timeoutMs: 10_000 });
    return r.code === 0 && /uri/.test(r.stdout);
  } catch {
    return false;
  }
}

/** Run several fio jobs at once against `uri` for `runtimeSec` (time based) and return each job's figures. */
export async function runFioJobs(uri: string, jobs: readonly FioJob[], runtimeSec: number, sizeBytes?: number): Promise<{ jobs: Map<string, FioResult>; command: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'larder-fio-'));
  const out = join(dir, 'fio.json');
  const global = ['--ioengine=nbd', `--uri=${uri}`, `--runtime=${runtimeSec}`, '--time_based', '--randrepeat=0', '--norandommap', ...(sizeBytes ? [`--size=${sizeBytes}`] : [])];
  const perJob = jobs.flatMap((j) => [
    `--name=${j.name}`,
    `--rw=${j.rw}`,
    ...(j.bs ? [`--bs=${j.bs}`] : []),
    ...(j.bsrange ? [`--bsrange=${j.bsrange}`] : []),
    `--iodepth=${j.iodepth}`,
  ]);
  const args = [...global, ...perJob, '--output-format=json', `--output=${out}`];
  const command = `fio ${args.filter((a) => !a.startsWith('--output=')).join(' ')}`;
  try {
    const r = await runCommand('fio', args, { timeoutMs: runtimeSec * 1000 + 120_000 });
    if (r.code !== 0) throw new Error(`fio failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    const parsed = parseFioJsonJobs(await readFile(out, 'utf8'));
    const withCmd = new Map<string, FioResult>();
    for (const [k, v] of parsed) withCmd.set(k, { ...v, command });
    return { jobs: withCmd, command };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run fio's nbd engine against `uri` (random 4–64 KiB reads at QD16 by default) and return IOPS and completion latency p50/p99. */
export async function runFioNbd(opts: FioNbdOptions): Promise<FioResult> {
  const job: FioJob = { name: 'bench', rw: opts.rw ?? 'randread', bsrange: opts.bsrange ?? '4k-64k', iodepth: opts.iodepth ?? 16 };
  const r = await runFioJobs(opts.uri, [job], opts.runtimeSec ?? 10, opts.sizeBytes);
  const res = r.jobs.get('bench');
  if (!res) throw new Error('fio returned no figures');
  return res;
}

/** The random-read job of the mixed scenario: 4–64 KiB at queue depth 16. */
export const RANDOM_READ_JOB: FioJob = { name: 'random', rw: 'randread', bsrange: '4k-64k', iodepth: 16 };
/** The sequential copy job of the mixed scenario: 256 KiB reads at queue depth 64 (like nbdcopy's requests). */
export const SEQUENTIAL_COPY_JOB: FioJob = { name: 'copy', rw: 'read', bs: '256k', iodepth: 64 };

/** Random reads alone, then random reads while a sequential copy runs; both for `runtimeSec`. */
export async function runMixed(uri: string, runtimeSec: number): Promise<{ alone: FioResult; withCopy: FioResult; copy: FioResult }> {
  const a = await runFioJobs(uri, [RANDOM_READ_JOB], runtimeSec);
  const b = await runFioJobs(uri, [RANDOM_READ_JOB, SEQUENTIAL_COPY_JOB], runtimeSec);
  const alone = a.jobs.get('random');
  const withCopy = b.jobs.get('random');
  const copy = b.jobs.get('copy');
  if (!alone || !withCopy || !copy) throw new Error('fio returned no figures for the mixed run');
  return { alone, withCopy, copy };
}
