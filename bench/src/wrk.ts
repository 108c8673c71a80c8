import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveCommand, runCommand } from './processes.js';
import { runHttpLoad } from './http-load.js';
import type { HttpLoadOptions, HttpLoadResult } from './http-load.js';
import { MiB } from './units.js';

/** Which load generator produced a result. */
export type LoadTool = 'wrk' | 'node';

/** Lua for wrk: each thread cycles through the paths listed in `pathsFile`, starting at its own offset. */
export function wrkScript(pathsFile: string): string {
  return `local paths = {}
for line in io.lines(${JSON.stringify(pathsFile)}) do paths[#paths + 1] = line end
local counter = 1
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  counter = (id or 0) * 7919
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
`;
}

/** Milliseconds of a wrk duration such as `812.00us`, `1.45ms`, `1.02s`, `2.00m`. */
export function parseWrkDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return v * (scale[m[2] as string] ?? Number.NaN);
}

/** Bytes of a wrk size such as `15.52GB`, `3.09GB`, `812.00KB`, `10B` (powers of 1024). */
export function parseWrkSize(text: string): number {
  const m = /^([\d.]+)([KMGT]?B)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const scale: Record<string, number> = { B: 1, KB: 1024, MB: MiB, GB: 1024 * MiB, TB: 1024 * 1024 * MiB };
  return Number(m[1]) * (scale[m[2] as string] ?? Number.NaN);
}

/** Parse wrk's `--latency` report into figures. */
export function parseWrkOutput(out: string, concurrency: number): HttpLoadResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const total = /(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read/.exec(out);
  const requests = total ? Number(total[1]) : 0;
  const ms = total ? parseWrkDuration(total[2] as string) : 0;
  const bytes = total ? parseWrkSize(total[3] as string) : 0;
  const p = (q: string) => {
    const m = new RegExp(`^\\s*${q}%\\s+(\\S+)`, 'm').exec(out);
    return m ? parseWrkDuration(m[1] as string) : Number.NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = num(/Non-2xx or 3xx responses: (\d+)/) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return {
    concurrency,
    requests,
    errors,
    bytes,
    ms,
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    mibPerSec: ms > 0 ? bytes / MiB / (ms / 1000) : 0,
    p50Ms: p('50'),
    p99Ms: p('99'),
    ...(errors > 0 ? { firstError: `${errors} errors (non-2xx or socket)` } : {}),
  };
}

/** Run wrk with `connections` keep-alive connections on 2 threads for `durationMs`, cycling through `paths`. */
export async function runWrk(opts: HttpLoadOptions & { threads?: number }): Promise<HttpLoadResult> {
  const concurrency = opts.concurrency ?? 64;
  const dir = await mkdtemp(join(tmpdir(), 'larder-wrk-'));
  try {
    const pathsFile = join(dir, 'paths.txt');
    await writeFile(pathsFile, opts.paths.join('\n') + '\n');
    await writeFile(join(dir, 'paths.lua'), wrkScript(pathsFile));
    const seconds = Math.max(1, Math.round((opts.durationMs ?? 10_000) / 1000));
    const args = ['-t', String(opts.threads ?? 2), '-c', String(concurrency), '-d', `${seconds}s`, '--latency', '--timeout', '10s', '-s', join(dir, 'paths.lua'), opts.base + '/'];
    const r = await runCommand('wrk', args, { timeoutMs: seconds * 1000 + 30_000 });
    if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr.trim()}`);
    return parseWrkOutput(r.stdout, concurrency);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Load-test with wrk when installed (it leaves the 2 cores to the server), else with the Node generator. */
export async function loadTest(opts: HttpLoadOptions, prefer: LoadTool | 'auto' = 'auto'): Promise<HttpLoadResult & { tool: LoadTool }> {
  const useWrk = prefer === 'wrk' || (prefer === 'auto' && (await haveCommand('wrk')));
  if (useWrk) return { ...(await runWrk(opts)), tool: 'wrk' };
  return { ...(await runHttpLoad({ requests: Number.MAX_SAFE_INTEGER, ...opts })), tool: 'node' };
}
