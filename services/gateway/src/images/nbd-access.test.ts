import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '@larder/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNbdExposure, loadNbdTls, nbdStoreAllowed } from './nbd-access.js';

const config = (gateway: Record<string, unknown>) => parseConfig({ datastores: { demo: { layout: 'pbs', bucket: 'demo-up' }, lab: { layout: 'pbs', bucket: 'lab-up' } }, gateway });
const tls = { certFile: '/x/cert.pem', keyFile: '/x/key.pem' };
const client = (identity?: string) => ({ peer: '127.0.0.1:1', tls: identity !== undefined, identity });

describe('gateway.nbdAccess', () => {
  it('lets everyone in when empty; otherwise only listed identities, to their datastores or *', () => {
    const open = config({});
    expect(nbdStoreAllowed(open, client(), 'demo')).toBe(true);
    const c = config({
      nbdTls: tls,
      nbdAccess: [
        { identity: 'alice', datastores: ['*'] },
        { identity: 'bob', datastores: ['lab'] },
      ],
    });
    expect(nbdStoreAllowed(c, client('alice'), 'demo')).toBe(true);
    expect(nbdStoreAllowed(c, client('bob'), 'lab')).toBe(true);
    expect(nbdStoreAllowed(c, client('bob'), 'demo')).toBe(false);
    expect(nbdStoreAllowed(c, client('carol'), 'lab')).toBe(false);
    expect(nbdStoreAllowed(c, client(), 'lab')).toBe(false);
  });
});

describe('checkNbdExposure', () => {
  it('allows loopback without TLS, and any address with required TLS or allowOpen', () => {
    expect(() => checkNbdExposure(config({}), '127.0.0.1')).not.toThrow();
    expect(() => checkNbdExposure(config({}), '::1')).not.toThrow();
    expect(() => checkNbdExposure(config({ nbdTls: tls }), '0.0.0.0')).not.toThrow();
    expect(() => checkNbdExposure(config({ allowOpen: true }), '0.0.0.0')).not.toThrow();
    expect(() => checkNbdExposure(config({ nbdTls: { ...tls, require: false }, nbdAccess: [{ identity: 'a', datastores: ['*'] }] }), '10.0.0.5')).not.toThrow();
  });

  it('refuses a non-loopback address without TLS, or with optional TLS and no access list', () => {
    expect(() => checkNbdExposure(config({}), '0.0.0.0')).toThrow('gateway.nbdListen 0.0.0.0 is not a loopback address and gateway.nbdTls is not configured');
    expect(() => checkNbdExposure(config({ nbdTls: { ...tls, require: false } }), '192.168.1.2')).toThrow(/require is false with no gateway.nbdAccess/);
  });

  it('refuses gateway.nbdAccess without gateway.nbdTls (no identities without TLS)', () => {
    expect(() => checkNbdExposure(config({ nbdAccess: [{ identity: 'a', datastores: ['demo'] }] }), '127.0.0.1')).toThrow(/nbdAccess is set but gateway.nbdTls is not/);
  });
});

describe('loadNbdTls', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'larder-nbd-access-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads the PSK file and says which setting is wrong, without the key', async () => {
    const pskFile = path.join(dir, 'keys.psk');
    await writeFile(pskFile, 'alice:0a0b0c0d\n');
    const loaded = await loadNbdTls({ pskFile, require: true });
    expect([...(loaded.psk?.keys() ?? [])]).toEqual(['alice']);
    expect(loaded.require).toBe(true);
    await writeFile(pskFile, 'alice=0a0b0c0d\n');
    await expect(loadNbdTls({ pskFile, require: true })).rejects.toThrow(`gateway.nbdTls.pskFile ${pskFile}, line 1: expected identity:hexkey`);
    await expect(loadNbdTls({ pskFile: path.join(dir, 'missing.psk'), require: true })).rejects.toThrow(/gateway.nbdTls.pskFile: cannot read .*missing.psk: ENOENT/);
    await expect(loadNbdTls({ certFile: '/x', require: true })).rejects.toThrow('certFile and keyFile go together');
    await expect(loadNbdTls({ require: true })).rejects.toThrow('needs certFile and keyFile, or pskFile');
    await expect(loadNbdTls({ caFile: '/x', pskFile, require: true })).rejects.toThrow(/caFile \(client certificates\) needs certFile/);
  });
});
