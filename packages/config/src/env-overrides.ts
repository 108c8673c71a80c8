import type { EnvOverride } from './environment.js';

/** Apply environment overrides (Environment.overrides) to a raw (unvalidated) config object; returns a copy. */
export function applyEnvOverrides(raw: Record<string, unknown>, overrides: readonly EnvOverride[]): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const { path, value } of overrides) {
    let node = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      node[part] = typeof next === 'object' && next !== null ? next : {};
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  }
  return out;
}
