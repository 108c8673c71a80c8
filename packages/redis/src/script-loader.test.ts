import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IndexScriptCode } from './errors.js';
import { expandIncludes } from './script-loader.js';

const dir = new URL('./scripts/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));

describe('Lua scripts', () => {
  it('are the expected files', () => {
    expect(files.sort()).toEqual([
      'admit-chunk.lua',
      'admit-fetched.lua',
      'evict-to-target.lua',
      'extend-lock.lua',
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
});
