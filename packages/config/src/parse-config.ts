import { parse as parseYaml } from 'yaml';
import { configSchema } from './schema.js';
import { ConfigError } from './errors.js';
import type { Config } from './types.js';

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

/** Parse YAML text and validate it; throws ConfigError for YAML syntax errors too. */
export function parseConfigText(text: string, source = 'config'): Config {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(source, [{ path: '', message: `not valid YAML: ${(err as Error).message}` }], { cause: err });
  }
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
    throw new ConfigError(source, [{ path: '', message: 'expected a mapping at the top level' }]);
  }
  return parseConfig(doc, source);
}
