import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLIENT_LABEL, cpuNote, larderCpuGroups, larderCpuPerGiB, startCpuMeter } from './cpu-meter.js';
import { runCommand } from './processes.js';
import { GiB } from './units.js';

/** Spin the CPU in a child for about `ms`. */
const busy = (ms: number) => `const t = Date.now(); while (Date.now() - t < ${ms});`;

describe('startCpuMeter', () => {
  it('counts the CPU of a running process and of a command run to completion meanwhile', async () => {
    const server = spawn(process.execPath, ['-e', `${busy(400)} setInterval(() => {}, 1000);`], { stdio: 'ignore' });
    try {
      const meter = await startCpuMeter([{ label: 'gateway', pids: [server.pid as number] }]);
      await runCommand(process.execPath, ['-e', busy(300)]);
      // Give the server time to finish its busy start (it is measured from the meter's start on).
      await new Promise((r) => setTimeout(r, 500));
      const uses = await meter.stop(GiB / 2);
      const gateway = uses.find((u) => u.label === 'gateway');
      const client = uses.find((u) => u.label === CLIENT_LABEL);
      expect(gateway?.seconds).toBeGreaterThan(0);
      expect(client?.seconds).toBeGreaterThan(0);
      // Per GiB: half a GiB delivered doubles the seconds.
      expect(client?.secPerGiB).toBeCloseTo((client?.seconds ?? 0) * 2, 6);
      expect(cpuNote(uses)).toMatch(/^CPU s\/GiB delivered: gateway [\d.]+, client [\d.]+; Larder total [\d.]+$/);
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('groups a stack by role, leaves S3 out when it shares this process, and sums only Larder', () => {
    const groups = larderCpuGroups(
      [
        { role: 'cache-index', pid: 10 },
        { role: 'chunk-fetcher', pid: 11 },
        { role: 'chunk-fetcher', pid: 12 },
        { role: 'gateway', pid: 13 },
      ],
      process.pid,
    );
    expect(groups).toEqual([
      { label: 'gateway', pids: [13] },
      { label: 'chunk-fetcher', pids: [11, 12] },
      { label: 'cache-index', pids: [10] },
    ]);
    expect(larderCpuGroups([], 42).map((g) => g.label)).toEqual(['S3 emulation']);
    const use = (label: string, secPerGiB: number) => ({ label, processes: 1, seconds: secPerGiB, secPerGiB });
    expect(larderCpuPerGiB([use('gateway', 1), use('chunk-fetcher', 2), use('S3 emulation', 4), use(CLIENT_LABEL, 8)])).toBe(3);
  });
});
