import { describe, expect, it } from 'vitest';
import { configFromMapping, findToken, hashToken, parseConfig, tokenAllows } from './index.js';

const ADMIN = 'admin-token-0123456789';
const READER = 'reader-token-0123456789';

const { tokens } = parseConfig({
  tokens: [
    { name: 'ops', token: ADMIN, scope: 'admin' },
    { name: 'reader', sha256: hashToken(READER), datastores: ['demo'] },
  ],
});

describe('tokens', () => {
  it('finds a token given in the clear or by its hash, and no other', () => {
    expect(findToken(tokens, ADMIN)?.name).toBe('ops');
    expect(findToken(tokens, READER)?.name).toBe('reader');
    expect(findToken(tokens, hashToken(READER))).toBeUndefined();
    expect(findToken(tokens, 'x')).toBeUndefined();
    expect(findToken(tokens, undefined)).toBeUndefined();
    expect(findToken(tokens, '')).toBeUndefined();
  });

  it('checks scope and datastores', () => {
    const [ops, reader] = tokens as [(typeof tokens)[0], (typeof tokens)[0]];
    expect(tokenAllows(ops, { scope: 'admin', datastore: '*' })).toBe(true);
    expect(tokenAllows(reader, { scope: 'read', datastore: 'demo' })).toBe(true);
    expect(tokenAllows(reader, { scope: 'read', datastore: 'cas' })).toBe(false);
    expect(tokenAllows(reader, { scope: 'admin', datastore: 'demo' })).toBe(false);
    expect(tokenAllows(reader, { scope: 'read', datastore: '*' })).toBe(false);
    expect(tokenAllows(reader, { scope: 'read' })).toBe(true);
  });

  it("come from LARDER_TOKENS (JSON), replacing the file's", () => {
    const env = { LARDER_TOKENS: JSON.stringify([{ name: 'env', sha256: hashToken(ADMIN), scope: 'admin' }]) };
    const c = configFromMapping({ tokens: [{ name: 'file', token: READER }] }, { source: 'larder.yaml', baseDir: '/tmp', env });
    expect(c.tokens.map((t) => t.name)).toEqual(['env']);
    expect(() => configFromMapping({}, { source: 'x', baseDir: '/tmp', env: { LARDER_TOKENS: `[{"name": "a", "token": "${ADMIN}"` } })).toThrow(/LARDER_TOKENS: not valid JSON/);
  });
});
