import { isMap, isScalar, isSeq, parse as parseYaml, parseDocument, type Document } from 'yaml';
import { ConfigChangeError } from './errors.js';

/** The cause of the error editConfigText throws for a text that is not YAML. */
export const NOT_YAML = Symbol('not YAML');

/** A dotted path split into segments; refuses empty segments. */
export function splitPath(dotted: string): string[] {
  const parts = dotted.trim().split('.');
  if (!dotted.trim() || parts.some((p) => p === ''))
    throw new ConfigChangeError(400, `not a config path: ${JSON.stringify(dotted)} (write e.g. capacity or datastores.demo.bucket)`);
  return parts;
}

/** Parse a VALUE as the CLI writes it: a YAML scalar or flow collection (`10GiB`, `32`, `{layout: pbs, bucket: x}`). */
export function parseValue(text: string): unknown {
  if (text === '') return '';
  try {
    return parseYaml(text) as unknown;
  } catch (err) {
    throw new ConfigChangeError(400, `not a YAML value: ${JSON.stringify(text)}: ${(err as Error).message}`, { cause: err });
  }
}

/** The keys of `parts` as the document spells them (so `datastores.123` finds a numeric key `123`). */
function documentKeys(doc: Document, parts: string[]): unknown[] {
  const keys: unknown[] = [];
  let node: unknown = doc.contents;
  for (const part of parts) {
    let key: unknown = part;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === part);
      if (pair) key = isScalar(pair.key) ? pair.key.value : pair.key;
    } else if (isSeq(node) && /^\d+$/.test(part)) {
      key = Number(part);
    }
    keys.push(key);
    node = isMap(node) || isSeq(node) ? node.get(key, true) : undefined;
  }
  return keys;
}

/**
 * Set (or, for `null`, remove) one dotted path in a YAML text, keeping comments and layout elsewhere;
 * returns the new text and its mapping (so that it need not be parsed again).
 * Throws ConfigChangeError 400 for a text that is not YAML or a path through a scalar.
 */
export function editConfigText(text: string, change: { op: 'set'; path: string; value: string } | { op: 'unset'; path: string }): { text: string; raw: Record<string, unknown> } {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConfigChangeError(400, `the config file is not valid YAML: ${doc.errors[0]?.message ?? ''}`, { cause: NOT_YAML });
  const parts = splitPath(change.path);
  const keys = documentKeys(doc, parts);
  const value = change.op === 'set' ? parseValue(change.value) : null;
  try {
    if (value === null) {
      if (!doc.hasIn(keys)) throw new ConfigChangeError(400, `nothing to remove: ${change.path} is not set in the config file`);
      doc.deleteIn(keys);
    } else {
      // Replace the node but keep the comments around it (a trailing `# ...` lives on the value node).
      const old = doc.getIn(keys, true);
      const node = doc.createNode(value);
      if (isScalar(old) || isMap(old) || isSeq(old)) {
        node.comment = old.comment;
        node.commentBefore = old.commentBefore;
        node.spaceBefore = old.spaceBefore;
      }
      doc.setIn(keys, node);
    }
  } catch (err) {
    if (err instanceof ConfigChangeError) throw err;
    throw new ConfigChangeError(400, `cannot set ${change.path}: ${(err as Error).message}`, { cause: err });
  }
  const raw = doc.toJS() as unknown;
  return { text: doc.toString(), raw: raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {} };
}
