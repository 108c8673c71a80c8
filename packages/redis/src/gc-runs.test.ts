import { afterAll, describe, expect, it } from 'vitest';
import { GcRuns, type GcHolder } from './gc-runs.js';
import { cleanup, connect, testNamespace } from './test-redis.js';

const ns = testNamespace('gc-runs');
const [redis] = connect(1);
const runs = new GcRuns<{ runId: string; phase: string }>(redis!, ns);
const holder = (runId: string, apply = false): GcHolder => ({ worker: `w-${runId}`, runId, startedAt: Date.now(), apply });

afterAll(() => cleanup(ns, [redis!]));

describe('GcRuns', () => {
  it('lets one run hold a datastore; ends it into the last report and frees the lease', async () => {
    const a = await runs.begin('s1', holder('a'), { runId: 'a', phase: 'queued' }, 10_000);
    expect(a).toMatchObject({ begun: true, abandoned: undefined });
    expect(await runs.begin('s1', holder('b'), { runId: 'b', phase: 'queued' }, 10_000)).toMatchObject({ begun: false, heldBy: { worker: 'w-a', runId: 'a' } });
    if (!a.begun) throw new Error('not begun');
    expect(await runs.progress('s1', a.token, { runId: 'a', phase: 'mark' })).toBe(true);
    expect((await runs.read(['s1']))[0]).toMatchObject({ holder: { runId: 'a' }, current: { phase: 'mark' }, last: undefined });
    expect(await runs.renew('s1', a.token, 10_000)).toBe(true);
    expect(await runs.end('s1', a.token, { runId: 'a', phase: 'done' })).toBe(true);
    expect((await runs.read(['s1']))[0]).toEqual({ store: 's1', holder: undefined, current: undefined, last: { runId: 'a', phase: 'done' } });
    expect(await runs.renew('s1', a.token, 10_000)).toBe(false);
  });

  it('hands the record of a run whose lease expired to the next run, and refuses the late end of the dead one', async () => {
    const dead = await runs.begin('s2', holder('dead'), { runId: 'dead', phase: 'sweep-cache' }, 50);
    if (!dead.begun) throw new Error('not begun');
    await new Promise((r) => setTimeout(r, 120));
    expect(await runs.progress('s2', dead.token, { runId: 'dead', phase: 'verify' })).toBe(false);
    const next = await runs.begin('s2', holder('next'), { runId: 'next', phase: 'queued' }, 10_000);
    expect(next).toMatchObject({ begun: true, abandoned: { runId: 'dead', phase: 'sweep-cache' } });
    expect(await runs.end('s2', dead.token, { runId: 'dead', phase: 'done' })).toBe(false);
    expect((await runs.read(['s2']))[0]?.current).toEqual({ runId: 'next', phase: 'queued' });
  });

  it('skips a scheduled begin when an applied run started since', async () => {
    const first = await runs.begin('s3', holder('x', true), { runId: 'x', phase: 'queued' }, 10_000, Date.now() - 1000);
    if (!first.begun) throw new Error('not begun');
    await runs.end('s3', first.token, { runId: 'x', phase: 'done' });
    expect(await runs.begin('s3', holder('y', true), { runId: 'y', phase: 'queued' }, 10_000, Date.now() - 60_000)).toMatchObject({ begun: false });
    expect(await runs.begin('s3', holder('z', true), { runId: 'z', phase: 'queued' }, 10_000, Date.now() + 1)).toMatchObject({ begun: true });
  });

  it('carries cancel requests per run', async () => {
    await runs.requestCancel('s4', 'r1');
    expect(await runs.cancelRequested('s4', 'r1')).toBe(true);
    expect(await runs.cancelRequested('s4', 'r2')).toBe(false);
  });
});
