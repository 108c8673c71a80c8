import { parse as parseYaml } from 'yaml';
import { configSchema } from './schema.js';
import { ConfigError } from './errors.js';
import type { Config } from './types.js';

/** A config text parsed once: its YAML mapping as written (no env overrides, no defaults) and its validated config. */
export interface ParsedConfigText {
  raw: Record<string, unknown>;
  config: Config;
}

/** Validate a configuration object; throws ConfigError naming each bad field. */
export function parseConfig(input: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      { cause: result.error },
    );
  }
  return result.data;
}

/** The one YAML parser of config texts: the top-level mapping (an empty text is an empty mapping); throws ConfigError for YAML syntax errors. */
export function parseYamlMapping(text: string, source = 'config'): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(source, [{ path: '', message: `not valid YAML: ${(err as Error).message}` }], { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(source, [{ path: '', message: 'expected a mapping at the top level' }]);
  return doc as Record<string, unknown>;
}

/** Parse and validate a config text with one YAML parse (YAML is the costly part); throws ConfigError. */
export function parseConfigDocument(text: string, source = 'config'): ParsedConfigText {
  const raw = parseYamlMapping(text, source);
  return { raw, config: parseConfig(raw, source) };
}

/** Parse YAML text and validate it; throws ConfigError for YAML syntax errors too. */
export function parseConfigText(text: string, source = 'config'): Config {
  return parseConfigDocument(text, source).config;
}

/**
 * The top-level mapping of a config text that may be broken, for finding the config-service of a config
 * that does not validate: duplicate keys allowed, else `namespace:` found by eye; never throws.
 */
export function parseLenientMapping(text: string): Record<string, unknown> {
  try {
    const doc = parseYaml(text, { uniqueKeys: false }) as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc)) return doc as Record<string, unknown>;
  } catch {
    // not YAML at all: look for the namespace line
  }
  const ns = /^namespace:\s*["']?([A-Za-z0-9_-]+)/m.exec(text)?.[1];
  return ns ? { namespace: ns } : {};
}
