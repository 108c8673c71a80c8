import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from './connection.js';
import { RequestBudgets, type BudgetLease, type BudgetPriority, type BudgetSettings } from './request-budget.js';
import { cleanup, connect, testNamespace } from './test-redis.js';
import { startOwnRedis } from './own-redis.js';

const ns = testNamespace('budget');
const [r1, r2] = connect(2) as [ReturnType<typeof connect>[0], ReturnType<typeof connect>[0]];
const open: RequestBudgets[] = [];
afterAll(async () => {
  for (const b of open) b.close();
  await cleanup(ns, [r1, r2]);
});

function budgets(redis: typeof r1, settings: Record<string, BudgetSettings>, opts: ConstructorParameters<typeof RequestBudgets>[3] = {}): RequestBudgets {
  const b = new RequestBudgets(redis, ns, () => settings, opts);
  open.push(b);
  return b;
}

/** Grants per second of the limiter's own clock (the second each lease was granted in). */
function perSecond(leases: BudgetLease[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const l of leases) out.set(l.second, (out.get(l.second) ?? 0) + 1);
  return out;
}

describe('RequestBudgets', () => {
  it('two processes share one budget: together at most the limit per second', async () => {
    const settings = { shared: { getPerSecond: 20, throttleStatuses: [503] } };
    const a = budgets(r1, settings);
    const b = budgets(r2, settings);
    const taken = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).acquire('shared', 'get')));
    for (const n of perSecond(taken).values()) expect(n).toBeLessThanOrEqual(20);
    expect(perSecond(taken).size).toBeGreaterThanOrEqual(3);
    for (const l of taken) l.release();
    // Classes are separate: PUTs are not limited by the GET rate.
    const puts = await Promise.all(Array.from({ length: 30 }, () => a.acquire('shared', 'put')));
    expect(puts).toHaveLength(30);
    puts.forEach((l) => l.release());
  });

  it('lower priorities use only their share of a second', async () => {
    const a = budgets(r1, { prio: { getPerSecond: 10, throttleStatuses: [503] } });
    const take = (p: BudgetPriority) => a.acquire('prio', 'get', p).then((l) => ({ p, l }));
    const taken = await Promise.all([...Array.from({ length: 12 }, () => take('background')), ...Array.from({ length: 6 }, () => take('client'))]);
    const background = new Map<number, number>();
    for (const { p, l } of taken) if (p === 'background') background.set(l.second, (background.get(l.second) ?? 0) + 1);
    for (const n of background.values()) expect(n).toBeLessThanOrEqual(5);
    const all = perSecond(taken.map((t) => t.l));
    for (const n of all.values()) expect(n).toBeLessThanOrEqual(10);
    // The client reads, queued after the background work, went first.
    const firstSecond = Math.min(...all.keys());
    expect(taken.filter((t) => t.p === 'client' && t.l.second === firstSecond)).toHaveLength(6);
  });

  it('a throttle answer halves the rate for every process, once per burst, and it grows back to the limit', async () => {
    const settings = { aimd: { getPerSecond: 40, throttleStatuses: [503, 403] } };
    const a = budgets(r1, settings, { increaseShare: 0.5 });
    const b = budgets(r2, settings, { increaseShare: 0.5 });
    const rate = async (x: RequestBudgets) => (await x.status()).find((s) => s.name === 'aimd')!.classes.get;
    const lease = await a.acquire('aimd', 'get');
    expect(lease.answered(200)).toBe(false);
    expect(lease.answered(403)).toBe(true);
    expect(lease.answered(503)).toBe(true);
    lease.release();
    await new Promise((r) => setTimeout(r, 50));
    const cut = await rate(b);
    expect(cut.throttled).toBe(2);
    expect(cut.rate).toBeGreaterThanOrEqual(20);
    expect(cut.rate).toBeLessThan(30);
    for (let i = 0; i < 100 && (await rate(b)).rate !== 40; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await rate(b)).rate).toBe(40);
  });

  it('a lease of a killed process is freed after leaseMs; a released one at once', async () => {
    const settings = { conc: { concurrency: 2, throttleStatuses: [503] } };
    const dead = budgets(r1, settings, { leaseMs: 400 });
    const alive = budgets(r2, settings);
    const held = await Promise.all([dead.acquire('conc', 'get'), dead.acquire('conc', 'put')]);
    dead.close(); // never released nor renewed: as a process killed with its requests in flight
    expect((await alive.status()).find((s) => s.name === 'conc')!.inflight).toBe(2);
    const third = await alive.acquire('conc', 'get');
    expect(held).toHaveLength(2);
    const fourth = alive.acquire('conc', 'list');
    third.release();
    (await fourth).release();
  });

  it('a wait past the deadline rejects with BudgetTimeoutError and takes nothing', async () => {
    const a = budgets(r1, { tight: { getPerSecond: 1, throttleStatuses: [503] } });
    const first = await a.acquire('tight', 'get');
    const second = await a.acquire('tight', 'get', 'client', AbortSignal.timeout(1)).catch((e: unknown) => e);
    expect(second).toMatchObject({ name: 'TimeoutError', budget: 'tight', cls: 'get' });
    first.release();
  });

  it('with Redis down, each process keeps to its share of the limit: no hang, never unlimited', async () => {
    const own = await startOwnRedis();
    const redis = createRedis({ url: own.url });
    redis.on('error', () => undefined);
    const settings = { down: { getPerSecond: 10, throttleStatuses: [503] } };
    const a = budgets(redis, settings, { redisTimeoutMs: 100 });
    const other = createRedis({ url: own.url });
    other.on('error', () => undefined);
    const b = budgets(other, settings);
    // Both processes seen in Redis: each one's share is half the limit.
    (await b.acquire('down', 'get')).release();
    (await a.acquire('down', 'get')).release();
    await own.stop();
    try {
      const taken = await Promise.all(Array.from({ length: 12 }, () => a.acquire('down', 'get')));
      for (const n of perSecond(taken).values()) expect(n).toBeLessThanOrEqual(5);
      expect((await a.status())[0]!.degraded).toBe(true);
    } finally {
      redis.disconnect();
      other.disconnect();
    }
  });
});
