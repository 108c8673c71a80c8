import { mkdtempSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DecodedSpill } from './decoded-spill.js';
import { SpillScrubber } from './spill-scrubber.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A spill holding `n` extents of `size` bytes each (key `k<i>`, filled with i + 1). */
async function spillWith(n: number, size: number): Promise<DecodedSpill> {
  const d = mkdtempSync(path.join(os.tmpdir(), 'larder-spill-scrub-'));
  dirs.push(d);
  const s = new DecodedSpill(path.join(d, 'decoded-spill'), () => 64 * 2 ** 20);
  for (let i = 0; i < n; i++) s.put(`k${i}`, Buffer.alloc(size, i + 1));
  for (let i = 0; i < 200 && s.count < n; i++) await new Promise((r) => setTimeout(r, 5));
  expect(s.count).toBe(n);
  return s;
}

/** Flip a byte of extent `key` on the volume, through its segment's descriptor (the file is unlinked). */
function rot(s: DecodedSpill, key: string, at: number): void {
  const e = s.acquire(key)!;
  writeSync(e.fd, Buffer.from([0xff]), 0, 1, e.offset + at);
  s.release(e);
}

describe('SpillScrubber', () => {
  it('finds a rotted extent in a pass, drops it, and leaves the others', async () => {
    const s = await spillWith(3, 100_000);
    const scrub = new SpillScrubber(s, () => 0);
    expect(await scrub.pass()).toBe(0);
    rot(s, 'k1', 99_999);
    expect(await scrub.pass()).toBe(1);
    expect([s.has('k0'), s.has('k1'), s.has('k2')]).toEqual([true, false, true]);
    expect(s.corrupt).toBe(1);
    expect(scrub.status).toEqual({ rateBytesPerSec: 0, passes: 2, bytes: 6 * 100_000 });
    s.close();
  });

  it('runs in the background at its rate, and stops', async () => {
    const s = await spillWith(4, 64 * 1024);
    const scrub = new SpillScrubber(s, () => 2 ** 20); // 4 × 64 KiB at 1 MiB/s: a pass takes 250 ms
    rot(s, 'k3', 10);
    const t0 = Date.now();
    scrub.start();
    await expect.poll(() => s.corrupt, { timeout: 5000, interval: 20 }).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    expect(s.has('k3')).toBe(false);
    const t1 = Date.now();
    await scrub.stop();
    expect(Date.now() - t1).toBeLessThan(1000);
    s.close();
  });
});
