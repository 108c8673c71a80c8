import { findToken, parseConfig, readEnvironment, tokenAllows, type Token } from '@larder/config';
import { ConfigChangeError } from './errors.js';

/** What config requests are checked against: LARDER_TOKENS of this process when set (it replaces the file's, as everywhere), else the tokens in force. */
export function tokenSource(env?: NodeJS.ProcessEnv): (inForce: readonly Token[]) => readonly Token[] {
  const override = readEnvironment(env).overrides.find((o) => o.variable === 'LARDER_TOKENS');
  const fromEnv = override ? parseConfig({ tokens: override.value }, 'LARDER_TOKENS').tokens : undefined;
  return (inForce) => fromEnv ?? inForce;
}

/** Whether the caller's token (the Larder-Token header) is an admin token for every datastore: it may change the config and see its secrets. */
export function isAdmin(tokens: readonly Token[], presented: string | undefined): boolean {
  const t = findToken(tokens, presented);
  return t !== undefined && tokenAllows(t, { scope: 'admin', datastore: '*' });
}

/**
 * Refuse a change unless its caller may make it: with tokens configured, an admin token for every datastore (401
 * without one or with an unknown one, 403 with a token that is not); without tokens anyone on NATS may. Returns the
 * token's name for the log.
 */
export function checkChanger(tokens: readonly Token[], presented: string | undefined): string | undefined {
  if (tokens.length === 0) return undefined;
  if (!presented) throw new ConfigChangeError(401, 'refused, nothing changed: config changes need an admin token (set LARDER_TOKEN)');
  const t = findToken(tokens, presented);
  if (!t) throw new ConfigChangeError(401, 'refused, nothing changed: unknown token (check LARDER_TOKEN)');
  if (!tokenAllows(t, { scope: 'admin', datastore: '*' })) {
    throw new ConfigChangeError(403, `refused, nothing changed: token ${t.name} is not an admin token for every datastore (scope admin, datastores ['*'])`);
  }
  return t.name;
}
