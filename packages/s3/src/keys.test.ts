import { describe, expect, it } from 'vitest';
import { chunkObjectKey, indexObjectKey } from './keys.js';

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
