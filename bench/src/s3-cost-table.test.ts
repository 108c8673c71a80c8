import { describe, expect, it } from 'vitest';
import { costPerTiB, s3CostTable } from './s3-cost-table.js';
import { larderS3Usage } from './larder-s3-usage.js';
import type { ResultRow } from './types.js';

const TIB = 2 ** 40;

describe('S3 cost table', () => {
  it('scales a run to one TiB and prices it at the default prices', () => {
    // 1 GiB restored in 256 GETs of 4 MiB: 262,144 GETs and 1 TiB of egress per TiB.
    const c = costPerTiB({ gets: 256, heads: 0, puts: 0, lists: 0, deletes: 0, bytesDownloaded: 2 ** 30, dataBytes: 2 ** 30 });
    expect(c.requests).toBe(262_144);
    expect(c.requestUsd).toBeCloseTo(0.1048576, 9);
    expect(c.egressUsd).toBeCloseTo(92.16, 9);
    // A backup: PUT class at $0.005 per 1,000, no egress.
    const b = costPerTiB({ gets: 0, heads: 0, puts: 1000, lists: 0, deletes: 0, bytesDownloaded: 0, dataBytes: TIB });
    expect(b.totalUsd).toBeCloseTo(0.005, 12);
  });

  it('shows the rows that counted their requests, nothing when none did', () => {
    const row = (system: string, s3?: ResultRow['s3']): ResultRow => ({ case: 'pbs', system, link: 'local', figures: [], s3 });
    expect(s3CostTable([row('a')])).toBe('');
    const table = s3CostTable([row('a'), row('Larder', { gets: 256, heads: 0, puts: 2, lists: 1, deletes: 0, bytesDownloaded: 2 ** 30, dataBytes: 2 ** 30 })]);
    expect(table).toMatch(/\*\*S3 cost\*\*/);
    expect(table).toMatch(/\| pbs \| Larder \| 256 \| 3 \| .+ \| 92\.16 \| .+ \|/);
    expect(table).not.toMatch(/\| a \|/);
  });

  it("takes Larder's requests from two status counts of a datastore", () => {
    const before = { get: { requests: 5, bytes: 50 } };
    const after = { get: { requests: 15, bytes: 1050 }, head: { requests: 2, bytes: 0 }, post: { requests: 1, bytes: 9 } };
    expect(larderS3Usage(before, after, 1000)).toEqual({ gets: 10, heads: 2, puts: 1, lists: 0, deletes: 0, bytesDownloaded: 1000, dataBytes: 1000 });
    expect(larderS3Usage(undefined, after, 1000)).toBeUndefined();
  });
});
