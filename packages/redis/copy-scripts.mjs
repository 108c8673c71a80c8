// Build step: copy the Lua scripts next to the compiled modules (src/scripts/*.lua -> dist/scripts/).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';

const from = new URL('./src/scripts/', import.meta.url);
const to = new URL('./dist/scripts/', import.meta.url);
mkdirSync(to, { recursive: true });
const scripts = readdirSync(from).filter((name) => name.endsWith('.lua'));
for (const name of scripts) copyFileSync(new URL(name, from), new URL(name, to));
// Shared code the scripts pull in with `-- @include NAME`.
mkdirSync(new URL('includes/', to), { recursive: true });
const includes = readdirSync(new URL('includes/', from)).filter((name) => name.endsWith('.lua'));
for (const name of includes) copyFileSync(new URL(`includes/${name}`, from), new URL(`includes/${name}`, to));
console.log(`copied ${scripts.length} Lua scripts and ${includes.length} includes to dist/scripts/`);
