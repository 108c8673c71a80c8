import { cpuMsOfAll, reapedChildrenCpuMs } from './proc-cpu.js';
import { fig } from './outcome.js';
import type { Figure } from './types.js';
import { GiB } from './units.js';

/** Processes whose CPU time is counted together, e.g. every chunk fetcher. */
export interface CpuGroup {
  label: string;
  pids: readonly number[];
}

/** CPU time one group spent during a measured read, and per GiB of image delivered. */
export interface CpuUse {
  label: string;
  /** Processes in the group. */
  processes: number;
  seconds: number;
  secPerGiB: number;
}

/** Label of the client's row: the commands this process ran to completion meanwhile (nbdcopy, fio, qemu-img). */
export const CLIENT_LABEL = 'client';

/**
 * Read the CPU time (utime + stime from /proc/PID/stat) of every group now; `stop(bytes)` reads it again and returns
 * each group's seconds and seconds per GiB of `bytes`. The client's CPU is the growth of this process's cutime +
 * cstime: the commands it waited for in between (a command still running at `stop` is not counted).
 */
export async function startCpuMeter(groups: readonly CpuGroup[]): Promise<{ stop(bytes: number): Promise<CpuUse[]> }> {
  const before = await Promise.all(groups.map((g) => cpuMsOfAll(g.pids)));
  const client0 = await reapedChildrenCpuMs();
  return {
    async stop(bytes) {
      const after = await Promise.all(groups.map((g) => cpuMsOfAll(g.pids)));
      const client = (await reapedChildrenCpuMs()) - client0;
      const use = (label: string, processes: number, ms: number): CpuUse => ({ label, processes, seconds: ms / 1000, secPerGiB: bytes > 0 ? ms / 1000 / (bytes / GiB) : 0 });
      return [...groups.map((g, i) => use(g.label, g.pids.length, (after[i] ?? 0) - (before[i] ?? 0))), use(CLIENT_LABEL, 0, client)];
    },
  };
}

/** Groups of a Larder stack's processes by role, in a fixed order, plus the S3 emulation's process (s3rver and the WAN proxy share it). */
export function larderCpuGroups(processes: readonly { role: string; pid: number }[], s3Pid: number | undefined): CpuGroup[] {
  const groups: CpuGroup[] = [];
  for (const role of ['gateway', 'chunk-fetcher', 'cache-index']) {
    const pids = processes.filter((p) => p.role === role).map((p) => p.pid);
    if (pids.length) groups.push({ label: role, pids });
  }
  // When S3 runs inside the bench process (no compiled child script), its CPU cannot be told apart from the client's.
  if (s3Pid && s3Pid !== process.pid) groups.push({ label: 'S3 emulation', pids: [s3Pid] });
  return groups;
}

/** One figure per group: `CPU <label>` in s/GiB (lower is better). */
export function cpuFigures(uses: readonly CpuUse[]): Figure[] {
  return uses.map((u) => fig(`CPU ${u.label}`, u.secPerGiB, 's/GiB', 'lower'));
}

/** Sum of the Larder groups' s/GiB (everything but S3 and the client). */
export function larderCpuPerGiB(uses: readonly CpuUse[]): number {
  return uses.filter((u) => u.label !== CLIENT_LABEL && u.label !== 'S3 emulation').reduce((a, u) => a + u.secPerGiB, 0);
}

/** A short text, e.g. `CPU s/GiB: gateway 1.20, chunk-fetcher 0.80 (2 processes), … (total Larder 2.1)`. */
export function cpuNote(uses: readonly CpuUse[]): string {
  const parts = uses.map((u) => `${u.label} ${u.secPerGiB.toFixed(2)}${u.processes > 1 ? ` (${u.processes} processes)` : ''}`);
  return `CPU s/GiB delivered: ${parts.join(', ')}; Larder total ${larderCpuPerGiB(uses).toFixed(2)}`;
}
