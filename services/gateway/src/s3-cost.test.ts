import { describe, expect, it } from 'vitest';
import { parseConfigText } from '@larder/config';
import { s3CostStatus } from './s3-cost.js';

describe('s3CostStatus', () => {
  const prices = parseConfigText('').prices;

  it('prices requests by class and GET bytes as egress, per datastore and in total', () => {
    const r = s3CostStatus(
      prices,
      {
        a: { get: { requests: 1000, bytes: 2 ** 30 }, head: { requests: 1000, bytes: 0 } },
        b: { put: { requests: 2000, bytes: 5 }, list: { requests: 1000, bytes: 0 }, delete: { requests: 7, bytes: 0 } },
      },
      { hits: 0, hitBytes: 0, putsNotSent: 0 },
    );
    expect(r.currency).toBe('USD');
    expect(r.datastores.a).toMatchObject({ requests: 2000, cost: 0.0908 });
    expect(r.datastores.b).toMatchObject({ requests: 3007, cost: 0.015 });
    expect(r.requests).toBe(5007);
    expect(r.bytesDownloaded).toBe(2 ** 30);
    expect(r.cost).toEqual({ requests: 0.0158, egress: 0.09, total: 0.1058 });
  });

  it('saves a GET and its bytes per hit, and a PUT per chunk not sent', () => {
    const r = s3CostStatus(prices, {}, { hits: 10_000, hitBytes: 10 * 2 ** 30, putsNotSent: 1000 });
    expect(r.saved).toEqual({ hits: 10_000, hitBytes: 10 * 2 ** 30, putsNotSent: 1000, gets: 0.004, egress: 0.9, puts: 0.005, total: 0.909 });
    expect(r.cost.total).toBe(0);
  });
});
