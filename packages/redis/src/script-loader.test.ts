import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRedis } from './connection.js';
import { IndexScriptCode } from './errors.js';
import { declaredKeyCount, expandIncludes, registerScripts, runScript, scriptSource, scriptTable, type ScriptName } from './script-loader.js';
import { REDIS_URL } from './test-redis.js';

const dir = new URL('./scripts/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));

describe('Lua scripts', () => {
  it('are the expected files', () => {
    expect(files.sort()).toEqual([
      'admit-chunk.lua',
      'admit-fetched.lua',
      'budget-acquire.lua',
      'budget-state.lua',
      'budget-throttle.lua',
      'evict-to-target.lua',
      'extend-lock.lua',
      'gc-claim.lua',
      'gc-claimed.lua',
      'gc-oldest-writer.lua',
      'gc-release.lua',
      'gc-renew.lua',
      'gc-run-begin.lua',
      'gc-run-end.lua',
      'gc-run-progress.lua',
      'gc-touch.lua',
      'gc-writer.lua',
      'rebuild-add.lua',
      'rebuild-commit.lua',
      'release-lock.lua',
      'remove-chunks.lua',
      'touch-chunks.lua',
    ]);
  });

  it.each(files)('%s documents KEYS, ARGV and every code it returns, all in IndexScriptCode', (file) => {
    // As Redis runs it: with its `-- @include` lines expanded.
    const source = expandIncludes(readFileSync(new URL(file, dir), 'utf8'));
    const header = source.slice(0, source.indexOf(']]'));
    expect(source.startsWith(`--[[\n  ${file}:`)).toBe(true);
    expect(header).toMatch(/KEYS\[1\]/);
    expect(header).toMatch(/ARGV\[1/);
    expect(header).toMatch(/Returns/);
    const codes = new Set([...source.matchAll(/return \{ (-?\d+)/g)].map((m) => Number(m[1])));
    expect(codes.size).toBeGreaterThan(0);
    for (const code of codes) {
      expect(Object.values(IndexScriptCode)).toContain(code);
      expect(header).toContain(`{ ${code}`);
    }
  });

  it("each is in the loader's table, once", () => {
    expect(
      Object.values(scriptTable())
        .map((s) => s.file)
        .sort(),
    ).toEqual(files.sort());
  });

  it.each(Object.entries(scriptTable()))('%s: its header declares KEYS[1..n] for the n keys its callers pass, and its code uses no other', (name, { file, keys }) => {
    const source = expandIncludes(readFileSync(new URL(file, dir), 'utf8'));
    const end = source.indexOf(']]');
    const declared = [...source.slice(0, end).matchAll(/^ {2}KEYS\[(\d+)\]/gm)].map((m) => Number(m[1]));
    expect(declared).toEqual(Array.from({ length: keys }, (_, i) => i + 1));
    const used = new Set([...source.slice(end).matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
    expect([...used].sort()).toEqual(declared);
    expect(source.slice(end)).not.toMatch(/KEYS\[[^\d]|#KEYS|unpack\(KEYS/); // every key by its number
    expect(scriptSource(name as ScriptName)).toBe(source);
  });

  it('the loader refuses a header that does not declare KEYS[1..n] or code that uses a key past them', () => {
    const header = (keys: string) => `--[[\n  x.lua: test\n\n${keys}\n  ARGV[1]  a\n\n  Returns { 0 }\n]]\n`;
    expect(declaredKeyCount(`${header('  KEYS[1]  a\n  KEYS[2]  b')}return { 0, KEYS[2] }`)).toBe(2);
    expect(() => declaredKeyCount(`${header('  KEYS[1]  a\n  KEYS[3]  b')}return { 0 }`)).toThrow(/expected KEYS\[1\] \.\. KEYS\[2\] in order/);
    expect(() => declaredKeyCount(`${header('  KEYS[1]  a')}return { 0, KEYS[2] }`)).toThrow(/uses KEYS\[2\] but its header declares 1/);
    expect(() => declaredKeyCount('return { 0 }')).toThrow(/no --\[\[/);
  });

  it('a call with the wrong number of keys throws before anything is sent', async () => {
    const redis = createRedis({ url: REDIS_URL });
    try {
      registerScripts(redis);
      const wrong = ['a', 'b'] as unknown as readonly [string, string, string];
      await expect(runScript(redis, 'test', 'admitChunk', wrong, ['m', 1, 1])).rejects.toThrow(/script admitChunk takes 3 keys, got 2/);
      const many = ['a', 'b'] as unknown as readonly [string];
      await expect(runScript(redis, 'test', 'releaseLock', many, ['t'])).rejects.toThrow(/script releaseLock takes 1 keys, got 2/);
    } finally {
      redis.disconnect();
    }
  });
});
