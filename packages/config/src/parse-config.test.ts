import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText, resolveDatastore } from './index.js';

describe('parseConfigText', () => {
  it('applies defaults and parses sizes and durations', () => {
    const c = parseConfigText('capacity: 2GiB\nfetcher: { timeout: 3s }\ndatastores:\n  demo: { layout: pbs, bucket: larder-demo }\n');
    expect(c.capacity).toBe(2 * 2 ** 30);
    expect(c.fetcher.timeout).toBe(3000);
    expect(c.fetcher.concurrency).toBe(128);
    expect(c.fetcher.inflightBytes).toBe(64 * 2 ** 20);
    expect(c.gateway.listen).toBe('127.0.0.1:8780');
    expect(c.volume.reserve).toBeCloseTo(0.05);
    expect(resolveDatastore(c, 'demo')?.endpoint).toBe('http://127.0.0.1:9000');
    expect(resolveDatastore(c, 'nope')).toBeUndefined();
    expect(resolveDatastore(c, 'constructor')).toBeUndefined();
  });

  it('names every bad field', () => {
    const bad = 'capacity: lots\ndatastores:\n  demo: { layout: zip, bucket: B }\n';
    const err = (() => {
      try {
        parseConfigText(bad, 'larder.yaml');
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const paths = err.issues.map((i) => i.path);
    expect(paths).toContain('capacity');
    expect(paths).toContain('datastores.demo.layout');
    expect(paths).toContain('datastores.demo.bucket');
    expect(err.message).toMatch(/^larder\.yaml: /);
  });

  it('refuses unknown keys, bad YAML and prefixes with dot segments', () => {
    expect(() => parseConfigText('capacty: 1GiB')).toThrow(/capacty|Unrecognized/);
    expect(() => parseConfigText('a: [')).toThrow(/not valid YAML/);
    expect(() => parseConfigText('datastores: { d: { layout: pbs, bucket: abc, prefix: "../x" } }')).toThrow(/datastores\.d\.prefix/);
  });

  it('defaults S3 prices to AWS S3 Standard us-east-1 and refuses a bad price with its path', () => {
    expect(parseConfigText('').prices).toEqual({ getPer1000: 0.0004, putPer1000: 0.005, deletePer1000: 0, egressPerGiB: 0.09, currency: 'USD' });
    expect(parseConfigText('prices: { egressPerGiB: 0, currency: EUR }').prices).toMatchObject({ getPer1000: 0.0004, egressPerGiB: 0, currency: 'EUR' });
    expect(() => parseConfigText('prices: { getPer1000: -1 }')).toThrow(/prices\.getPer1000.*cannot be negative/);
    expect(() => parseConfigText('prices: { putPer1000: cheap }')).toThrow(/prices\.putPer1000.*must be a number/);
    expect(() => parseConfigText('prices: { currency: dollars }')).toThrow(/prices\.currency/);
    expect(() => parseConfigText('prices: { getPer100: 1 }')).toThrow(/getPer100|Unrecognized/);
  });
});
