import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SEC = 100;

/** CPU time (user + system) a process has used so far, in ms (from /proc/PID/stat); 0 when it is gone. */
export async function cpuMsOf(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) in parentheses: state is field 3, utime 14, stime 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SEC;
  } catch {
    return 0;
  }
}

/** Summed CPU ms of `pids`. */
export async function cpuMsOfAll(pids: readonly number[]): Promise<number> {
  return (await Promise.all(pids.map(cpuMsOf))).reduce((a, b) => a + b, 0);
}
