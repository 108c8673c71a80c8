import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

let ticks: number | undefined;

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; USER_HZ, 100 on Linux, when getconf fails). */
export function ticksPerSec(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime, stime, cutime, cstime of a process in ticks (fields 14–17 of /proc/PID/stat); undefined when it is gone. */
async function statTimes(pid: number | 'self'): Promise<number[] | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses: state is field 3, utime 14 … cstime 17.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return fields.slice(11, 15).map(Number);
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in ms (from /proc/PID/stat); 0 when it is gone. */
export async function cpuMsOf(pid: number): Promise<number> {
  const t = await statTimes(pid);
  return t ? (((t[0] ?? 0) + (t[1] ?? 0)) * 1000) / ticksPerSec() : 0;
}

/** CPU ms of this process's children that have exited and been waited for (cutime + cstime of /proc/self/stat). */
export async function reapedChildrenCpuMs(): Promise<number> {
  const t = await statTimes('self');
  return t ? (((t[2] ?? 0) + (t[3] ?? 0)) * 1000) / ticksPerSec() : 0;
}

/** Summed CPU ms of `pids`. */
export async function cpuMsOfAll(pids: readonly number[]): Promise<number> {
  return (await Promise.all(pids.map(cpuMsOf))).reduce((a, b) => a + b, 0);
}

/**
 * Wait until `pids` together use under `busyShare` of one core over a `windowMs` window (background work of a previous
 * step finished), or `timeoutMs` passed; the ms waited. A timed step that follows must not be billed for an earlier one.
 */
export async function waitForIdle(pids: readonly number[], opts: { windowMs?: number; busyShare?: number; timeoutMs?: number } = {}): Promise<number> {
  const { windowMs = 500, busyShare = 0.05, timeoutMs = 60_000 } = opts;
  const t0 = performance.now();
  let before = await cpuMsOfAll(pids);
  while (performance.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, windowMs));
    const now = await cpuMsOfAll(pids);
    if (now - before < windowMs * busyShare) break;
    before = now;
  }
  return performance.now() - t0;
}
