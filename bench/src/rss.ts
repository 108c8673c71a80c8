import { readFile } from 'node:fs/promises';
import { MiB } from './units.js';

/** Resident set size of a process in bytes (from /proc/PID/status), 0 when it is gone. */
export async function readRss(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Peak and mean of the summed RSS of a set of processes. */
export interface RssSummary {
  peakMiB: number;
  meanMiB: number;
  samples: number;
}

/** Sample the summed RSS of `pids()` every `intervalMs` until the returned stop() is called. */
export function sampleRss(pids: () => readonly number[], intervalMs = 100): { stop(): Promise<RssSummary> } {
  const values: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const all = await Promise.all(pids().map(readRss));
      values.push(all.reduce((a, b) => a + b, 0));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      const peak = values.reduce((a, b) => Math.max(a, b), 0);
      const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
      return { peakMiB: peak / MiB, meanMiB: mean / MiB, samples: values.length };
    },
  };
}
