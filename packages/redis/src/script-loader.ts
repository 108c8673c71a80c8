import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { IndexScriptCode, commandFailed, indexError, isIndexScriptCode } from './errors.js';

/**
 * The Lua scripts of this package: source file (beside this module in src/ and dist/) and how many KEYS a call
 * passes. The one place a key count is written on this side: each script's header declares the same KEYS[1..n]
 * (checked when the script is read), and {@link runScript} takes exactly that many keys (typed and checked).
 */
const SCRIPTS = {
  admitChunk: { url: new URL('./scripts/admit-chunk.lua', import.meta.url), keys: 3 },
  admitFetched: { url: new URL('./scripts/admit-fetched.lua', import.meta.url), keys: 5 },
  touchChunks: { url: new URL('./scripts/touch-chunks.lua', import.meta.url), keys: 1 },
  evictToTarget: { url: new URL('./scripts/evict-to-target.lua', import.meta.url), keys: 4 },
  removeChunks: { url: new URL('./scripts/remove-chunks.lua', import.meta.url), keys: 3 },
  releaseLock: { url: new URL('./scripts/release-lock.lua', import.meta.url), keys: 1 },
  extendLock: { url: new URL('./scripts/extend-lock.lua', import.meta.url), keys: 1 },
  rebuildAdd: { url: new URL('./scripts/rebuild-add.lua', import.meta.url), keys: 3 },
  rebuildCommit: { url: new URL('./scripts/rebuild-commit.lua', import.meta.url), keys: 7 },
  gcTouch: { url: new URL('./scripts/gc-touch.lua', import.meta.url), keys: 4 },
  gcClaim: { url: new URL('./scripts/gc-claim.lua', import.meta.url), keys: 2 },
  gcRenew: { url: new URL('./scripts/gc-renew.lua', import.meta.url), keys: 1 },
  gcRelease: { url: new URL('./scripts/gc-release.lua', import.meta.url), keys: 2 },
  gcClaimed: { url: new URL('./scripts/gc-claimed.lua', import.meta.url), keys: 1 },
  gcWriter: { url: new URL('./scripts/gc-writer.lua', import.meta.url), keys: 2 },
  gcOldestWriter: { url: new URL('./scripts/gc-oldest-writer.lua', import.meta.url), keys: 2 },
  gcBegin: { url: new URL('./scripts/gc-run-begin.lua', import.meta.url), keys: 3 },
  gcProgress: { url: new URL('./scripts/gc-run-progress.lua', import.meta.url), keys: 2 },
  gcEnd: { url: new URL('./scripts/gc-run-end.lua', import.meta.url), keys: 3 },
  budgetAcquire: { url: new URL('./scripts/budget-acquire.lua', import.meta.url), keys: 3 },
  budgetThrottle: { url: new URL('./scripts/budget-throttle.lua', import.meta.url), keys: 1 },
  budgetState: { url: new URL('./scripts/budget-state.lua', import.meta.url), keys: 2 },
} as const;

/** Name of one of the package's Lua scripts. */
export type ScriptName = keyof typeof SCRIPTS;

type Strings<N extends number, T extends string[] = []> = T['length'] extends N ? T : Strings<N, [...T, string]>;
/** The keys of a call of script `S`: a tuple of exactly its KEYS count. */
export type ScriptKeys<S extends ScriptName> = Readonly<Strings<(typeof SCRIPTS)[S]['keys']>>;

/** Each script's source file name and KEYS count (for tests and tools). */
export function scriptTable(): Record<ScriptName, { file: string; keys: number }> {
  const entries = Object.entries(SCRIPTS).map(([name, { url, keys }]) => [name, { file: url.pathname.slice(url.pathname.lastIndexOf('/') + 1), keys }]);
  return Object.fromEntries(entries) as Record<ScriptName, { file: string; keys: number }>;
}

/** A script reply after its code was checked: the elements after the code. */
export type ScriptReply = { code: IndexScriptCode; values: unknown[] };

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

const sources = new Map<ScriptName, string>();
const registered = new WeakSet<Redis>();

function readLua(url: URL): string {
  try {
    return readFileSync(url, 'utf8');
  } catch (err) {
    throw new Error(`@larder/redis: cannot read Lua script ${url.pathname} (was dist/scripts copied by the build?)`, { cause: err });
  }
}

/** Replace each `-- @include NAME` line with `scripts/includes/NAME.lua` (code the scripts share, as BullMQ's includes). */
export function expandIncludes(source: string): string {
  return source.replace(/^-- @include ([a-z0-9-]+)$/gm, (_line, name: string) => readLua(new URL(`./scripts/includes/${name}.lua`, import.meta.url)).trimEnd());
}

/**
 * How many KEYS a script's header (its leading `--[[ ... ]]` comment) declares: lines `KEYS[1]` .. `KEYS[n]`, in
 * order. Throws when they are not 1..n or the script uses a KEYS index past n.
 */
export function declaredKeyCount(source: string): number {
  const end = source.startsWith('--[[') ? source.indexOf(']]') : -1;
  if (end < 0) throw new Error('no --[[ ... ]] header');
  const declared = [...source.slice(0, end).matchAll(/^\s*KEYS\[(\d+)\]/gm)].map((m) => Number(m[1]));
  declared.forEach((k, i) => {
    if (k !== i + 1) throw new Error(`header declares KEYS[${declared.join('], KEYS[')}]: expected KEYS[1] .. KEYS[${declared.length}] in order`);
  });
  for (const m of source.slice(end).matchAll(/KEYS\[(\d+)\]/g)) {
    if (Number(m[1]) > declared.length) throw new Error(`uses KEYS[${m[1]}] but its header declares ${declared.length}`);
  }
  return declared.length;
}

/** The Lua source of a script, read once from the package's `scripts/` folder; throws if its header's KEYS disagree with the table. */
export function scriptSource(name: ScriptName): string {
  let source = sources.get(name);
  if (source === undefined) {
    const { url, keys } = SCRIPTS[name];
    source = expandIncludes(readLua(url));
    let declared: number;
    try {
      declared = declaredKeyCount(source);
    } catch (err) {
      throw new Error(`@larder/redis: script ${name} (${url.pathname}): ${(err as Error).message}`, { cause: err });
    }
    if (declared !== keys) throw new Error(`@larder/redis: script ${name} (${url.pathname}) declares ${declared} KEYS, its callers pass ${keys}`);
    sources.set(name, source);
  }
  return source;
}

function commandName(name: ScriptName): string {
  return `larder${name[0]!.toUpperCase()}${name.slice(1)}`;
}

/** Register every script on `redis` with `defineCommand` (EVALSHA with EVAL fallback); idempotent per connection. */
export function registerScripts(redis: Redis): void {
  if (registered.has(redis)) return;
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    redis.defineCommand(commandName(name), { numberOfKeys: SCRIPTS[name].keys, lua: scriptSource(name) });
  }
  registered.add(redis);
}

/**
 * Run script `name` and decode the `{ code, ...values }` reply. Throws an {@link IndexError} for
 * a failed command, a malformed reply, or a code not listed in `accept` (OK is always accepted).
 */
export async function runScript<S extends ScriptName>(
  redis: Redis,
  op: string,
  name: S,
  keys: ScriptKeys<S> & readonly string[],
  args: readonly (string | number)[],
  accept: readonly IndexScriptCode[] = [],
): Promise<ScriptReply> {
  // Checked at run time too: the tuple type does not hold for callers that cast or are not type-checked.
  if (keys.length !== SCRIPTS[name].keys) {
    throw new Error(`@larder/redis: script ${name} takes ${SCRIPTS[name].keys} keys, got ${keys.length}`);
  }
  registerScripts(redis);
  const command = (redis as unknown as Record<string, ScriptCommand>)[commandName(name)]!;
  let reply: unknown;
  try {
    reply = await command.call(redis, ...keys, ...args);
  } catch (err) {
    throw commandFailed(op, err);
  }
  if (!Array.isArray(reply) || !isIndexScriptCode(reply[0])) {
    throw indexError(IndexScriptCode.UNEXPECTED_REPLY, op, `script ${name} replied ${JSON.stringify(reply)}`);
  }
  const [code, ...values] = reply as [IndexScriptCode, ...unknown[]];
  if (code !== IndexScriptCode.OK && !accept.includes(code)) {
    throw indexError(code, op, typeof values[0] === 'string' ? values[0] : undefined);
  }
  return { code, values };
}

/**
 * Run `fn`, wrapping any non-{@link IndexError} failure as COMMAND_FAILED with the original as `cause`
 * (a RedisUnavailableError when Redis could not be reached).
 */
export async function guard<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw commandFailed(op, err);
  }
}

/** Read an integer reply element, or throw UNEXPECTED_REPLY. */
export function replyInt(op: string, value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw indexError(IndexScriptCode.UNEXPECTED_REPLY, op, `expected an integer, got ${JSON.stringify(value)}`);
  }
  return n;
}
