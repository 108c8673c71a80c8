import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Semaphore', () => {
  it('bounds holders, serves normal work before low-priority work, and caps low work at half', async () => {
    const s = new Semaphore(4);
    const order: string[] = [];
    let peak = 0;
    let peakLow = 0;
    let low = 0;
    const job = (name: string, isLow: boolean) =>
      s.run(async () => {
        if (isLow) peakLow = Math.max(peakLow, ++low);
        peak = Math.max(peak, s.inUse);
        await tick();
        order.push(name);
        if (isLow) low--;
      }, isLow);
    await Promise.all([...Array.from({ length: 6 }, (_, i) => job(`low${i}`, true)), ...Array.from({ length: 6 }, (_, i) => job(`n${i}`, false))]);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peakLow).toBeLessThanOrEqual(2);
    expect(order.indexOf('n5')).toBeLessThan(order.indexOf('low5'));
  });
});
