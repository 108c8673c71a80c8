import { describe, expect, it } from 'vitest';
import { ConfigError, configFromMapping, readEnvironment, splitUrlCredentials } from './index.js';

const KEYS = JSON.stringify([{ accessKeyId: 'backup-host', secretAccessKey: 'a-long-secret', access: 'read-write' }]);

describe('LARDER_ACCESS_KEYS', () => {
  it('sets accessKeys from JSON, replacing those of the file', () => {
    const file = { accessKeys: [{ accessKeyId: 'from-file', secretAccessKey: 'file-secret' }] };
    const config = configFromMapping(file, { source: 'larder.yaml', baseDir: '/tmp', env: { LARDER_ACCESS_KEYS: KEYS } });
    expect(config.accessKeys).toEqual([{ accessKeyId: 'backup-host', secretAccessKey: 'a-long-secret', buckets: ['*'], access: 'read-write' }]);
  });

  it('leaves the file alone when unset or empty', () => {
    const file = { accessKeys: [{ accessKeyId: 'from-file', secretAccessKey: 'file-secret' }] };
    const config = configFromMapping(file, { source: 'larder.yaml', baseDir: '/tmp', env: { LARDER_ACCESS_KEYS: '' } });
    expect(config.accessKeys.map((k) => k.accessKeyId)).toEqual(['from-file']);
  });

  it('refuses text that is not JSON, naming the variable but not its value', () => {
    const read = () => readEnvironment({ LARDER_ACCESS_KEYS: '[{accessKeyId: x, secretAccessKey: hunter2hunter2' });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(/LARDER_ACCESS_KEYS: not valid JSON/);
    expect(read).not.toThrow(/hunter2/);
  });

  it('is validated like the file: a bad key is a config error', () => {
    const env = { LARDER_ACCESS_KEYS: JSON.stringify([{ accessKeyId: 'k', secretAccessKey: 'short' }]) };
    expect(() => configFromMapping({}, { source: 'larder.yaml', baseDir: '/tmp', env })).toThrow(/accessKeys\.0\.accessKeyId/);
  });

  it('works beside the string overrides, e.g. the S3 listener', () => {
    const env = { LARDER_ACCESS_KEYS: KEYS, LARDER_GATEWAY_S3_LISTEN: '0.0.0.0:8781' };
    const config = configFromMapping({}, { source: 'larder.yaml', baseDir: '/tmp', env });
    expect(config.gateway.s3Listen).toBe('0.0.0.0:8781');
    expect(config.accessKeys).toHaveLength(1);
  });
});

describe('paths relative to the config file', () => {
  it('makes the NBD TLS files absolute and leaves absent ones absent', () => {
    const config = configFromMapping(
      { gateway: { nbdTls: { certFile: 'tls/cert.pem', keyFile: '/etc/larder/key.pem', pskFile: 'keys.psk' } } },
      { source: 'larder.yaml', baseDir: '/srv/larder', env: false },
    );
    expect(config.gateway.nbdTls).toEqual({ certFile: '/srv/larder/tls/cert.pem', keyFile: '/etc/larder/key.pem', pskFile: '/srv/larder/keys.psk', require: true });
    expect(configFromMapping({}, { source: 'larder.yaml', baseDir: '/srv/larder', env: false }).gateway.nbdTls).toBeUndefined();
  });
});

describe('Redis and NATS credentials from the environment', () => {
  it('sets redis.username/password and nats.user/pass/token, over the file', () => {
    const file = { redis: { url: 'redis://cache:6379', password: 'from-file' }, nats: { servers: 'nats://bus:4222' } };
    const env = { LARDER_REDIS_USERNAME: 'larder', LARDER_REDIS_PASSWORD: 'r-secret', LARDER_NATS_USER: 'svc', LARDER_NATS_PASSWORD: 'n-secret', LARDER_NATS_TOKEN: 'n-token' };
    const config = configFromMapping(file, { source: 'larder.yaml', baseDir: '/tmp', env });
    expect(config.redis).toMatchObject({ url: 'redis://cache:6379', username: 'larder', password: 'r-secret' });
    expect(config.nats).toMatchObject({ servers: 'nats://bus:4222', user: 'svc', pass: 'n-secret', token: 'n-token' });
  });

  it('resolves the TLS files against the config file folder', () => {
    const file = { redis: { tls: { caFile: 'certs/ca.pem', servername: 'redis.internal' } }, nats: { tls: { certFile: '/abs/client.pem', keyFile: 'client.key' } } };
    const config = configFromMapping(file, { source: 'larder.yaml', baseDir: '/etc/larder', env: {} });
    expect(config.redis.tls).toEqual({ caFile: '/etc/larder/certs/ca.pem', servername: 'redis.internal' });
    expect(config.nats.tls).toEqual({ certFile: '/abs/client.pem', keyFile: '/etc/larder/client.key' });
  });
});

describe('URL credentials', () => {
  it('splits user and password out of a URL (percent-decoded)', () => {
    expect(splitUrlCredentials('redis://larder:p%40ss@cache:6379/2')).toEqual({ url: 'redis://cache:6379/2', username: 'larder', password: 'p@ss' });
    expect(splitUrlCredentials('redis://:only-pass@cache:6379')).toEqual({ url: 'redis://cache:6379', password: 'only-pass' });
    expect(splitUrlCredentials('nats://a-token@bus:4222')).toEqual({ url: 'nats://bus:4222', username: 'a-token' });
    expect(splitUrlCredentials('redis://cache:6379')).toEqual({ url: 'redis://cache:6379' });
  });
});
