import { describe, expect, it } from 'vitest';
import { SingleFlight } from './index.js';

describe('SingleFlight', () => {
  it('shares one run per key while it is under way, then starts anew', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    let release!: (n: number) => void;
    const start = () => {
      runs++;
      return new Promise<number>((r) => (release = r));
    };
    const a = flight.run('k', start);
    const b = flight.run('k', start);
    expect(a).toBe(b);
    expect(flight.has('k')).toBe(true);
    expect(flight.size).toBe(1);
    release(7);
    await expect(a).resolves.toBe(7);
    expect(flight.has('k')).toBe(false);
    const c = flight.run('k', () => Promise.resolve(8));
    await expect(c).resolves.toBe(8);
    expect(runs).toBe(1);
  });

  it('lets a failure leave the map so that the next caller retries', async () => {
    const flight = new SingleFlight<number>();
    await expect(flight.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(flight.size).toBe(0);
    await expect(flight.run('k', () => Promise.resolve(1))).resolves.toBe(1);
  });
});
