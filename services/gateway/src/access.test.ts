import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { hashToken, parseConfig } from '@larder/config';
import { AccessError, authorize, exposureProblem } from './access.js';
import type { Route } from './http-kit.js';

const ADMIN = 'admin-token-unit-test-01';
const READER = 'read-token-unit-test-02';
const config = parseConfig({
  tokens: [
    { name: 'ops', sha256: hashToken(ADMIN), scope: 'admin', datastores: ['*'] },
    { name: 'reader', token: READER, datastores: ['demo'] },
  ],
});

const req = (method: string, token?: string) => ({ method, headers: token ? { authorization: `Bearer ${token}` } : {} }) as IncomingMessage;
const status = (fn: () => unknown) => {
  try {
    fn();
    return 200;
  } catch (err) {
    expect(err).toBeInstanceOf(AccessError);
    return (err as AccessError).status;
  }
};

/** A route that changes something (none is served yet: warm, GC and config go through NATS); such routes need an admin token by default. */
const write: Route = { methods: ['POST', 'PUT', 'DELETE'], pattern: /^\/v1\/stores\/([^/]+)\/x$/, storeParam: 0, handler: () => {} };

describe('authorize', () => {
  it('takes an admin token for anything but GET and HEAD', () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      expect(status(() => authorize(config, req(method), write, ['demo']))).toBe(401);
      expect(status(() => authorize(config, req(method, READER), write, ['demo']))).toBe(403);
      expect(status(() => authorize(config, req(method, ADMIN), write, ['demo']))).toBe(200);
    }
    expect(status(() => authorize(config, req('GET', READER), write, ['demo']))).toBe(200);
    expect(status(() => authorize(config, req('GET', READER), write, ['other']))).toBe(403);
    expect(status(() => authorize(config, req('GET', READER), { ...write, access: 'admin' }, ['demo']))).toBe(403);
  });

  it('lets everything through without tokens, unless the gateway listens on the network', () => {
    const open = parseConfig({});
    expect(status(() => authorize(open, req('POST'), write, ['demo']))).toBe(200);
    expect(status(() => authorize(open, req('GET'), write, ['demo'], true))).toBe(401);
  });
});

describe('exposureProblem', () => {
  it('names an HTTP address open to the network without tokens', () => {
    const open = parseConfig({});
    expect(exposureProblem(open, '127.0.0.1:8780')).toBeUndefined();
    expect(exposureProblem(open, '0.0.0.0:8780')).toMatch(/no tokens/);
    expect(exposureProblem(config, '0.0.0.0:8780')).toBeUndefined();
    expect(exposureProblem(parseConfig({ gateway: { allowOpen: true } }), '0.0.0.0:8780')).toBeUndefined();
  });
});
