import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Semaphore', () => {
  it('bounds holders, serves normal work before low-priority work, and caps low work at half', async () => {
    const s = new Semaphore({ count: 4, weight: Infinity });
    const order: string[] = [];
    let peak = 0;
    let peakLow = 0;
    let low = 0;
    const job = (name: string, isLow: boolean) =>
      s.run(
        async () => {
          if (isLow) peakLow = Math.max(peakLow, ++low);
          peak = Math.max(peak, s.inUse);
          await tick();
          order.push(name);
          if (isLow) low--;
        },
        { low: isLow },
      );
    await Promise.all([...Array.from({ length: 6 }, (_, i) => job(`low${i}`, true)), ...Array.from({ length: 6 }, (_, i) => job(`n${i}`, false))]);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peakLow).toBeLessThanOrEqual(2);
    expect(order.indexOf('n5')).toBeLessThan(order.indexOf('low5'));
  });

  it('bounds the sum of weights, lets a single heavy holder in, and keeps order', async () => {
    const s = new Semaphore({ count: 100, weight: 10 });
    let peakWeight = 0;
    const order: string[] = [];
    const job = (name: string, weight: number) =>
      s.run(
        async () => {
          peakWeight = Math.max(peakWeight, s.weightInUse);
          await tick();
          order.push(name);
        },
        { weight },
      );
    await Promise.all([job('a', 4), job('b', 4), job('huge', 50), job('c', 1)]);
    expect(peakWeight).toBe(50); // alone: one holder always fits
    expect(order.indexOf('huge')).toBeLessThan(order.indexOf('c')); // c waited behind huge, not around it
    expect(s.inUse).toBe(0);
    expect(s.weightInUse).toBe(0);
  });

  it('admits waiters when the limits are raised', async () => {
    const s = new Semaphore({ count: 1, weight: 1 });
    let release!: () => void;
    const first = s.run(() => new Promise<void>((r) => (release = r)));
    let second = false;
    const p = s.run(async () => {
      second = true;
    });
    await tick();
    expect(second).toBe(false);
    s.setLimits({ count: 2, weight: 2 });
    await p;
    expect(second).toBe(true);
    release();
    await first;
  });
});
