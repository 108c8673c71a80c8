import { describe, expect, it } from 'vitest';
import { childText, escapeXml, parseXml, serializeXml, xmlDocument, XmlSyntaxError } from './xml.js';

describe('XML', () => {
  it('writes S3 documents with the namespace, escaped text and repeated elements', () => {
    const doc = xmlDocument('DeleteResult', { Deleted: [{ Key: 'a&b' }, { Key: '<c>' }], Error: [] });
    expect(doc).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>a&amp;b</Key></Deleted><Deleted><Key>&lt;c&gt;</Key></Deleted></DeleteResult>',
    );
    expect(escapeXml(`"'`)).toBe('&quot;&apos;');
  });

  it('parses what clients send: declaration, namespace, attributes, entities, CDATA, comments', () => {
    const el = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b&#47;&#x63;</Key></Object><Object><Key><![CDATA[<x>]]></Key></Object><Empty/></Delete>',
    );
    expect(el.name).toBe('Delete');
    expect(childText(el, 'Quiet')).toBe('true');
    expect(el.children.filter((c) => c.name === 'Object').map((o) => childText(o, 'Key'))).toEqual(['a&b/c', '<x>']);
    expect(serializeXml(el)).toContain('<Key>a&amp;b/c</Key>');
  });

  it('refuses malformed documents, DTDs and deep nesting', () => {
    for (const bad of [
      '<a>',
      '<a></b>',
      '<a>x</a><b/>',
      '<!DOCTYPE a><a/>',
      '<a><!ENTITY x "y"></a>',
      '<a>&unknown;</a>',
      '<a>AT&T</a>',
      'text',
      `${'<a>'.repeat(100)}${'</a>'.repeat(100)}`,
    ]) {
      expect(() => parseXml(bad), bad.slice(0, 40)).toThrow(XmlSyntaxError);
    }
  });
});
