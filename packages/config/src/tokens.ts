import { createHash, timingSafeEqual } from 'node:crypto';
import type { Token } from './types.js';

/** The hex SHA-256 of a token, as `tokens[].sha256` holds it. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Each token list's digests, computed once per list (a config generation), not per request. */
const digests = new WeakMap<readonly Token[], Buffer[]>();

function digestsOf(tokens: readonly Token[]): Buffer[] {
  let d = digests.get(tokens);
  if (!d) {
    d = tokens.map((t) => Buffer.from(t.sha256 ?? hashToken(t.token ?? ''), 'hex'));
    digests.set(tokens, d);
  }
  return d;
}

/**
 * The configured token that `presented` is, or undefined. The presented token is hashed and compared with every
 * configured digest in constant time (no early exit), so that timing tells nothing about the tokens.
 */
export function findToken(tokens: readonly Token[], presented: string | undefined): Token | undefined {
  if (presented === undefined || presented === '') return undefined;
  const mine = createHash('sha256').update(presented, 'utf8').digest();
  let found: Token | undefined;
  digestsOf(tokens).forEach((d, i) => {
    if (d.length === mine.length && timingSafeEqual(d, mine) && !found) found = tokens[i];
  });
  return found;
}

/** What a request needs: a scope, and the datastore it touches (none: the node as a whole). */
export interface Need {
  scope: 'read' | 'admin';
  datastore?: string;
}

/** Whether a token may do what `need` asks: admin covers read; its datastores must include the one touched, or be `*` (a need of datastore `*`, such as a config change, takes a token for every datastore). */
export function tokenAllows(token: Token, need: Need): boolean {
  if (need.scope === 'admin' && token.scope !== 'admin') return false;
  return need.datastore === undefined || token.datastores.includes('*') || token.datastores.includes(need.datastore);
}

/** Whether any configured token is an admin token for every datastore (a config change must leave one). */
export function hasFullAdmin(tokens: readonly Token[]): boolean {
  return tokens.some((t) => t.scope === 'admin' && t.datastores.includes('*'));
}
