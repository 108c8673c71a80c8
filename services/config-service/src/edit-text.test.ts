import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { editConfigText } from './edit-text.js';

const TEXT = `# Larder config
capacity: 2GiB # the budget
datastores:
  # the demo store
  demo:
    layout: pbs
    bucket: larder-demo
  123:
    layout: casync
    bucket: numbered
`;

describe('editConfigText', () => {
  it('sets a scalar and keeps comments', () => {
    const { text: out, raw } = editConfigText(TEXT, { op: 'set', path: 'capacity', value: '10GiB' });
    expect(raw).toEqual(parse(out));
    expect(out).toContain('capacity: 10GiB # the budget');
    expect(out).toContain('# the demo store');
    expect(out).toContain('# Larder config');
  });

  it('adds a datastore from a flow value, creating missing parents', () => {
    const { text: out, raw } = editConfigText(TEXT, { op: 'set', path: 'datastores.extra', value: '{layout: pbs, bucket: extra-b}' });
    expect(raw).toEqual(parse(out));
    expect(parse(out).datastores.extra).toEqual({ layout: 'pbs', bucket: 'extra-b' });
    const { text: nested } = editConfigText(TEXT, { op: 'set', path: 'fetcher.concurrency', value: '32' });
    expect(parse(nested).fetcher).toEqual({ concurrency: 32 });
  });

  it('finds numeric keys as written and removes paths', () => {
    const { text: out } = editConfigText(TEXT, { op: 'set', path: 'datastores.123.bucket', value: 'renamed' });
    expect(parse(out).datastores['123'].bucket).toBe('renamed');
    expect(out.match(/123:/g)).toHaveLength(1);
    const { text: removed } = editConfigText(TEXT, { op: 'unset', path: 'datastores.demo' });
    expect(parse(removed).datastores.demo).toBeUndefined();
    expect(parse(removed).datastores['123']).toBeDefined();
  });

  it('refuses bad paths, paths through scalars and removing what is not there', () => {
    expect(() => editConfigText(TEXT, { op: 'set', path: 'a..b', value: '1' })).toThrow(/not a config path/);
    expect(() => editConfigText(TEXT, { op: 'set', path: 'capacity.x', value: '1' })).toThrow(/cannot set capacity\.x/);
    expect(() => editConfigText(TEXT, { op: 'unset', path: 'datastores.nope' })).toThrow(/nothing to remove/);
    expect(() => editConfigText('a: [', { op: 'set', path: 'capacity', value: '1' })).toThrow(/not valid YAML/);
  });

  it('edits an empty file', () => {
    expect(parse(editConfigText('', { op: 'set', path: 'capacity', value: '1GiB' }).text)).toEqual({ capacity: '1GiB' });
  });
});
