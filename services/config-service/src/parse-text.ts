import { parse as parseYaml } from 'yaml';
import { ConfigError, parseConfig, type Config } from '@larder/config';

/** A config text parsed once: its YAML mapping and its validated config. */
export interface ParsedConfig {
  raw: Record<string, unknown>;
  config: Config;
}

/** Validate a YAML mapping already parsed (no env overrides); throws ConfigError naming each bad field. */
export function validateRaw(raw: Record<string, unknown>, source: string): ParsedConfig {
  return { raw, config: parseConfig(raw, source) };
}

/** Parse and validate a config text with one YAML parse (YAML is the costly part); throws ConfigError. */
export function parseConfigYaml(text: string, source: string): ParsedConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(source, [{ path: '', message: `not valid YAML: ${(err as Error).message}` }], { cause: err });
  }
  if (doc === null || doc === undefined) return validateRaw({}, source);
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(source, [{ path: '', message: 'expected a mapping at the top level' }]);
  return validateRaw(doc as Record<string, unknown>, source);
}
