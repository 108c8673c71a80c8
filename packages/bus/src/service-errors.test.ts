import { randomBytes } from 'node:crypto';
import { statusOf } from '@larder/errors';
import { Svcm } from '@nats-io/services';
import { afterAll, describe, expect, it } from 'vitest';
import { connectBus } from './connect.js';
import { BusError, checkReply, requestFailure } from './service-errors.js';

const nc = await connectBus({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bus-errors-test' });
const prefix = `larder.bustest-${randomBytes(4).toString('hex')}`;
afterAll(() => nc.close());

/** The status a request to `subject` fails with. */
async function failureOf(subject: string, timeout: number): Promise<number> {
  const err = await nc.request(subject, undefined, { timeout }).then(
    () => undefined,
    (e: unknown) => requestFailure(e, 'test request'),
  );
  expect(err).toBeInstanceOf(BusError);
  return statusOf(err);
}

describe('requestFailure', () => {
  it('classifies by nats.js error type: no responders 503, no answer in time 504', async () => {
    expect(await failureOf(`${prefix}.nobody`, 2000)).toBe(503);
    const sub = nc.subscribe(`${prefix}.silent`); // receives, never answers
    try {
      expect(await failureOf(`${prefix}.silent`, 100)).toBe(504);
    } finally {
      sub.unsubscribe();
    }
  });

  it('does not read statuses out of messages: a message that merely says "timeout" or "503" is a 503, not a 504', () => {
    expect(statusOf(requestFailure(new Error('upstream timeout while reading'), 'x'))).toBe(503);
    expect(statusOf(requestFailure(Object.assign(new Error('boom'), { name: 'TimeoutError' }), 'x'))).toBe(503);
    expect(requestFailure(new Error('HTTP 503 timeout'), 'asking x').message).toBe('asking x: HTTP 503 timeout');
    const passed = new BusError(404, 'no such chunk');
    expect(requestFailure(passed, 'x')).toBe(passed);
  });
});

describe('checkReply', () => {
  it("turns a service's error answer into a BusError with its status", async () => {
    const service = await new Svcm(nc).add({ name: `bustest-${randomBytes(4).toString('hex')}`, version: '0.0.1' });
    service.addEndpoint('fail', { subject: `${prefix}.fail`, handler: (_err, msg) => msg.respondError(502, 'bad bytes') });
    try {
      const reply = await nc.request(`${prefix}.fail`, undefined, { timeout: 2000 });
      expect(() => checkReply(reply)).toThrow(BusError);
      try {
        checkReply(reply);
      } catch (err) {
        expect(statusOf(err)).toBe(502);
        expect((err as Error).message).toBe('bad bytes');
      }
    } finally {
      await service.stop();
    }
  });
});
