import { describe, expect, it } from 'vitest';
import { s3RequestCounts, s3StoreCounts, s3StoreFields } from './stats-fields.js';

describe('per-datastore S3 stats fields', () => {
  it('names fields that read back by datastore and operation, apart from the s3.get.<outcome> counters', () => {
    const get = s3StoreFields('demo-1', 'get');
    const put = s3StoreFields('b_2', 'put');
    const stats = { [get.requests]: 3, [get.bytes]: 9000, [put.requests]: 2, 's3.get.ok': 3, hits: 7 };
    expect(s3StoreCounts(stats)).toEqual({ 'demo-1': { get: { requests: 3, bytes: 9000 } }, b_2: { put: { requests: 2, bytes: 0 } } });
    expect(s3RequestCounts(stats)).toEqual({ get: { ok: 3 } });
  });
});
