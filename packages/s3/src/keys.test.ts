import { describe, expect, it } from 'vitest';
import { chunkDigestOfKey, chunkObjectKey, indexObjectKey } from './keys.js';

describe('object keys', () => {
  it('names chunk objects for both layouts, under the prefix when there is one', () => {
    const id = `abcd${'0'.repeat(60)}`;
    expect(chunkObjectKey({ layout: 'pbs', prefix: '' }, id)).toBe(`.chunks/abcd/${id}`);
    expect(chunkObjectKey({ layout: 'casync', prefix: '' }, id)).toBe(`abcd/${id}.cacnk`);
    expect(chunkObjectKey({ layout: 'restic', prefix: 'repo' }, id)).toBe(`repo/data/ab/${id}`);
    expect(chunkObjectKey({ layout: 'pbs', prefix: 'ds/one' }, id)).toBe(`ds/one/.chunks/abcd/${id}`);
    expect(indexObjectKey({ prefix: 'p' }, 'vm/100/disk.fidx')).toBe('p/.cnt/vm/100/disk.fidx');
  });
});

describe('chunkDigestOfKey', () => {
  it('inverts chunkObjectKey for every layout, with and without a prefix, and refuses every other key', () => {
    const id = `abcd${'1'.repeat(60)}`;
    for (const layout of ['pbs', 'casync', 'restic'] as const) {
      for (const prefix of ['', 'ds/one']) expect(chunkDigestOfKey({ layout, prefix }, chunkObjectKey({ layout, prefix }, id))).toBe(id);
    }
    expect(chunkDigestOfKey({ layout: 'pbs', prefix: '' }, `.chunks/abce/${id}`)).toBeUndefined(); // wrong shard
    expect(chunkDigestOfKey({ layout: 'pbs', prefix: 'ds' }, `.chunks/abcd/${id}`)).toBeUndefined(); // outside the prefix
    expect(chunkDigestOfKey({ layout: 'casync', prefix: '' }, `.chunks/abcd/${id}`)).toBeUndefined();
    expect(chunkDigestOfKey({ layout: 'restic', prefix: '' }, `index/${id}`)).toBeUndefined();
  });
});
