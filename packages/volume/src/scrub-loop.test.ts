import { describe, expect, it } from 'vitest';
import { ScrubLoop } from './scrub-loop.js';

describe('ScrubLoop', () => {
  it('runs a pass at once when enabled, pauses after it, and stop ends a long pacing sleep at once', async () => {
    let passes = 0;
    const paced: Promise<void>[] = [];
    const loop: ScrubLoop = new ScrubLoop({
      enabled: () => true,
      pass: async () => {
        passes++;
        paced.push(loop.sleep(60_000));
        await paced.at(-1);
      },
    });
    loop.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(passes).toBe(1);
    const t0 = Date.now();
    await loop.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(loop.stopped).toBe(true);
    expect(passes).toBe(1);
  });

  it('runs no pass while disabled, and reports a failed pass', async () => {
    let passes = 0;
    const off = new ScrubLoop({ enabled: () => false, pass: async () => void passes++ });
    off.start();
    await new Promise((r) => setTimeout(r, 50));
    await off.stop();
    expect(passes).toBe(0);
    const errors: unknown[] = [];
    const failing = new ScrubLoop({ enabled: () => true, pass: () => Promise.reject(new Error('disk gone')), onError: (e) => errors.push(e) });
    failing.start();
    await new Promise((r) => setTimeout(r, 50));
    await failing.stop();
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk gone']);
  });
});
