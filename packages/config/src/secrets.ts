import { parseDocument } from 'yaml';
import { parseConfig } from './parse-config.js';
import type { Config } from './types.js';

/** What a secret is replaced with wherever the config is shown or served to a caller that may not see it. */
export const REDACTED = '<redacted>';

/**
 * Where secrets sit in a config mapping (the file's, or a validated Config: the same shape). `*` is any key of a
 * mapping, `[]` every item of a list (named by its `name` or `accessKeyId`, so that lists can be matched by item).
 */
const SECRET_PATHS: ReadonlyArray<readonly string[]> = [
  ['tokens', '[]', 'token'],
  ['tokens', '[]', 'sha256'],
  ['accessKeys', '[]', 'secretAccessKey'],
  ['s3', 'secretAccessKey'],
  ['datastores', '*', 'secretAccessKey'],
  ['redis', 'password'],
  ['nats', 'pass'],
  ['nats', 'token'],
];

/** URLs (or lists of them) that may carry a password or token in their user info. */
const URL_PATHS: ReadonlyArray<readonly string[]> = [
  ['redis', 'url'],
  ['nats', 'servers'],
];

type Key = string | number;
/** One secret found: where it is (keys, list indexes), its label (list items by name) and its holder. */
interface Found {
  keys: Key[];
  label: string;
  holder: Record<string, unknown> | unknown[];
  key: Key;
  url: boolean;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function itemLabel(item: unknown, i: number): string {
  if (isMap(item)) {
    const id = item.name ?? item.accessKeyId;
    if (typeof id === 'string') return id;
  }
  return String(i);
}

function walk(node: unknown, path: readonly string[], keys: Key[], labels: string[], url: boolean, out: Found[]): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (head === '[]') {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, rest, [...keys, i], [...labels, itemLabel(item, i)], url, out));
    return;
  }
  if (!isMap(node)) return;
  for (const k of head === '*' ? Object.keys(node) : [head]) {
    if (!Object.hasOwn(node, k)) continue;
    if (rest.length) walk(node[k], rest, [...keys, k], [...labels, k], url, out);
    else if (node[k] !== undefined && node[k] !== null) out.push({ keys: [...keys, k], label: [...labels, k].join('.'), holder: node, key: k, url });
  }
}

function secretsOf(root: unknown): Found[] {
  const out: Found[] = [];
  for (const p of SECRET_PATHS) walk(root, p, [], [], false, out);
  for (const p of URL_PATHS) walk(root, p, [], [], true, out);
  return out;
}

/** A URL with the password (or a token: user info without a colon) replaced by {@link REDACTED}. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon >= 0 ? `${info.slice(0, colon)}:${REDACTED}` : REDACTED}@`;
  });
}

function redactValue(value: unknown, url: boolean): unknown {
  if (!url) return REDACTED;
  if (typeof value === 'string') return redactUrl(value);
  return Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? redactUrl(v) : v)) : value;
}

function set(f: Found, value: unknown): void {
  (f.holder as Record<Key, unknown>)[f.key] = value;
}

/** A deep copy of a config (mapping or validated Config) with every secret replaced by {@link REDACTED}. */
export function redactConfig<T>(config: T): T {
  const copy = structuredClone(config);
  for (const f of secretsOf(copy)) set(f, redactValue(f.holder[f.key as never], f.url));
  return copy;
}

/** The config file's text with every secret replaced by {@link REDACTED}, comments and layout kept. */
export function redactConfigText(text: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length) return '# (the text is not shown: it is not valid YAML, and its secrets could not be hidden)\n';
  const found = secretsOf(doc.toJS());
  if (!found.length) return text;
  for (const f of found) doc.setIn(f.keys, redactValue(f.holder[f.key as never], f.url));
  return doc.toString();
}

/** Whether a value holds a redaction mark (a URL with a redacted password included). */
function isRedacted(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(REDACTED);
  return Array.isArray(value) && value.some(isRedacted);
}

/** Labels (`tokens.ops.sha256`, `redis.url`) of the secrets of `config` that are still redaction marks. */
export function redactedSecrets(config: unknown): string[] {
  return secretsOf(config)
    .filter((f) => isRedacted(f.holder[f.key as never]))
    .map((f) => f.label);
}

/**
 * A copy of `served` (a config served without its secrets) with each redaction mark replaced by the same secret of
 * `local` (the process's own file), matched by path and list items by name; a URL only when `local`'s, redacted,
 * is the served one. Marks `local` has no value for stay (see {@link redactedSecrets}).
 */
export function fillRedacted(served: Record<string, unknown>, local: Record<string, unknown>): Record<string, unknown> {
  const own = new Map(secretsOf(local).map((f) => [f.label, f]));
  const copy = structuredClone(served);
  for (const f of secretsOf(copy)) {
    const value = f.holder[f.key as never];
    if (!isRedacted(value)) continue;
    const mine = own.get(f.label);
    if (!mine) continue;
    const theirs = mine.holder[mine.key as never];
    if (!f.url || JSON.stringify(redactValue(theirs, true)) === JSON.stringify(value)) set(f, structuredClone(theirs));
  }
  return copy;
}

/**
 * The config file's text with its redaction marks put back from `from` (the mapping in force), so that a config
 * edited from its redacted text keeps its secrets; also the labels of marks `from` has no secret for.
 */
export function restoreRedactedText(text: string, from: Record<string, unknown>): { text: string; missing: string[] } {
  const doc = parseDocument(text);
  if (doc.errors.length) return { text, missing: [] };
  const found = secretsOf(doc.toJS()).filter((f) => isRedacted(f.holder[f.key as never]));
  if (!found.length) return { text, missing: [] };
  const own = new Map(secretsOf(from).map((f) => [f.label, f]));
  const missing: string[] = [];
  for (const f of found) {
    const mine = own.get(f.label);
    const theirs = mine?.holder[mine.key as never];
    if (mine && (!f.url || JSON.stringify(redactValue(theirs, true)) === JSON.stringify(f.holder[f.key as never]))) doc.setIn(f.keys, theirs);
    else missing.push(f.label);
  }
  return { text: doc.toString(), missing };
}

/** Stand-ins that pass validation, for reading a redacted mapping's effective values (never served, never used). */
function standIn(label: string): string {
  return label.endsWith('.sha256') ? '0'.repeat(64) : REDACTED.padEnd(16, '*');
}

/** A redacted mapping (as served) validated with defaults, its secrets shown as {@link REDACTED}. */
export function parseRedactedConfig(raw: Record<string, unknown>, source = 'served config'): Config {
  const copy = structuredClone(raw);
  for (const f of secretsOf(copy)) if (!f.url && isRedacted(f.holder[f.key as never])) set(f, standIn(f.label));
  return redactConfig(parseConfig(copy, source));
}
