import { StatusError } from '@larder/errors';
import { describe, expect, it } from 'vitest';
import { CliError } from './cli-error.js';
import { GatewayRetry, isTransient, networkMessage } from './gateway-client.js';

const answer = (status: number) => new CliError(`${status} x`, 1, { cause: new StatusError(status, 'x') });
const refused = () =>
  new CliError('cannot reach the gateway', 1, {
    cause: new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) }),
  });

describe('gateway retries', () => {
  it('count 502, 503, 504, refused or reset connections and timeouts as transient; never a 4xx, a 500 or a bad answer', () => {
    for (const status of [502, 503, 504]) expect(isTransient(answer(status))).toBe(true);
    for (const status of [400, 404, 416, 422, 500]) expect(isTransient(answer(status))).toBe(false);
    expect(isTransient(refused())).toBe(true);
    expect(isTransient(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }))).toBe(true);
    expect(isTransient(new AggregateError([Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })]))).toBe(true);
    expect(isTransient(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toBe(true); // AbortSignal.timeout
    expect(isTransient(new CliError('did not answer', 1, { cause: Object.assign(new Error('timeout'), { name: 'TimeoutError' }) }))).toBe(true);
    expect(isTransient(new CliError('gateway ignored the range 0-9 (status 200)'))).toBe(false);
    expect(networkMessage(refused().cause)).toBe('fetch failed (ECONNREFUSED)');
  });

  it('retries within the budget, then gives up with the last failure; other failures at once', async () => {
    const lines: string[] = [];
    const retry = new GatewayRetry(300, (l) => lines.push(l));
    let calls = 0;
    await expect(retry.run(async () => (++calls, Promise.reject(answer(503))))).rejects.toThrow(/^503 x \(gave up after retrying for 0\.3 s; --retry-for sets how long\)$/);
    expect(calls).toBeGreaterThan(1);
    expect(lines[0]).toMatch(/^503 x; retrying \(1 retry so far/);
    expect(lines.length).toBe(1); // the same failure is reported once per 5 s
    calls = 0;
    await expect(retry.run(async () => (++calls, Promise.reject(answer(404))))).rejects.toThrow(/^404 x$/);
    expect(calls).toBe(1);
    calls = 0;
    expect(await retry.run(async () => (++calls < 3 ? Promise.reject(refused()) : 'ok'))).toBe('ok');
    expect(retry.summary()).toMatch(/^, 2 requests retried \(\d+ retries\)$/);
    const none = new GatewayRetry(0);
    await expect(none.run(async () => Promise.reject(answer(504)))).rejects.toThrow(/^504 x$/);
    expect(none.summary()).toBe('');
  });
});
