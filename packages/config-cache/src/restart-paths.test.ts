import { describe, expect, it } from 'vitest';
import { parseConfig } from '@larder/config';
import { changedPaths, needsRestart, restartRequiredFor } from './restart-paths.js';

describe('changedPaths', () => {
  it('names changed leaves, and whole subtrees added or removed', () => {
    const a = parseConfig({ capacity: '1GiB', datastores: { a: { layout: 'pbs', bucket: 'bucket-a' } } });
    const b = parseConfig({ capacity: '2GiB', fetcher: { concurrency: 4 }, datastores: { b: { layout: 'pbs', bucket: 'bucket-b' } } });
    expect(changedPaths(a, b)).toEqual(['capacity', 'datastores.a', 'datastores.b', 'fetcher.concurrency']);
    expect(changedPaths(a, structuredClone(a))).toEqual([]);
  });

  it('compares arrays by index', () => {
    expect(changedPaths({ s: ['x', 'y'] }, { s: ['x', 'z', 'w'] })).toEqual(['s.1', 's.2']);
  });
});

describe('restart classification', () => {
  it('needs a restart for addresses, connections, the volume and timers read at start', () => {
    for (const p of [
      'namespace',
      'redis.url',
      'redis.password',
      'nats.servers',
      'nats.servers.0',
      'nats.tls.caFile',
      'gateway.listen',
      'gateway.nbdListen',
      'volume.path',
      's3.embedded.listen',
      's3.embedded',
      's3',
    ]) {
      expect(needsRestart(p), p).toBe(true);
    }
    for (const p of ['capacity', 'datastores.x', 'datastores.x.bucket', 'fetcher.concurrency', 'volume.reserve', 'images.readahead', 's3.endpoint', 'gateway.requestTimeout']) {
      expect(needsRestart(p), p).toBe(false);
    }
    expect(restartRequiredFor(['capacity', 'gateway.listen'])).toEqual(['gateway.listen']);
  });
});
