/** The namespace of S3's XML documents. */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Escape text for an XML element's content. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** A tree to write: element name → text, a child tree, or a list of either (repeated elements); undefined is left out. */
export type XmlValue = string | number | boolean | undefined | XmlTree | XmlValue[];
export interface XmlTree {
  [name: string]: XmlValue;
}

function writeValue(name: string, v: XmlValue, out: string[]): void {
  if (v === undefined) return;
  if (Array.isArray(v)) return v.forEach((item) => writeValue(name, item, out));
  if (typeof v === 'object') {
    out.push(`<${name}>`);
    for (const [n, c] of Object.entries(v)) writeValue(n, c, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeXml(String(v))}</${name}>`);
}

/** An XML document with one root element in S3's namespace (`xmlns` false: none, as S3's error documents). */
export function xmlDocument(root: string, body: XmlTree, xmlns = true): string {
  const out: string[] = [`<?xml version="1.0" encoding="UTF-8"?>\n<${root}${xmlns ? ` xmlns="${S3_XMLNS}"` : ''}>`];
  for (const [n, c] of Object.entries(body)) writeValue(n, c, out);
  out.push(`</${root}>`);
  return out.join('');
}

/** A parsed element: its name (namespace prefix dropped), child elements in order, and its text. */
export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

/** Thrown for a document the parser does not accept. */
export class XmlSyntaxError extends Error {
  override name = 'XmlSyntaxError';
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, e: string | undefined) => {
    if (e === undefined) throw new XmlSyntaxError('bare & in text');
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw new XmlSyntaxError(`unknown entity ${m}`);
    return v;
  });
}

const NAME = /^[A-Za-z_][\w.:-]*/;

/**
 * A small strict parser for the documents S3 exchanges: elements, attributes (ignored), text with the predefined and
 * numeric entities, CDATA, comments and an XML declaration. No DTDs, no processing instructions: a request body that has
 * them is refused. Throws XmlSyntaxError.
 */
export function parseXml(doc: string): XmlElement {
  let at = 0;
  const skipMisc = () => {
    for (;;) {
      const ws = /^\s*/.exec(doc.slice(at, at + 1024))?.[0].length ?? 0;
      at += ws;
      if (doc.startsWith('<!--', at)) {
        const end = doc.indexOf('-->', at + 4);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        at = end + 3;
      } else if (ws === 0) return;
    }
  };
  if (doc.charCodeAt(0) === 0xfeff) at = 1;
  if (doc.startsWith('<?xml', at)) {
    const end = doc.indexOf('?>', at);
    if (end < 0) throw new XmlSyntaxError('unterminated XML declaration');
    at = end + 2;
  }
  skipMisc();
  const root = element();
  skipMisc();
  if (at !== doc.length) throw new XmlSyntaxError('content after the root element');
  return root;

  function element(depth = 0): XmlElement {
    if (depth > 64) throw new XmlSyntaxError('elements nested too deeply');
    if (doc[at] !== '<') throw new XmlSyntaxError(`expected an element at ${at}`);
    at++;
    const m = NAME.exec(doc.slice(at, at + 256));
    if (!m) throw new XmlSyntaxError(`bad element name at ${at}`);
    const qname = m[0];
    at += qname.length;
    // Attributes: name="value" or name='value'.
    for (;;) {
      const a = /^\s+([A-Za-z_][\w.:-]*)\s*=\s*("[^"<]*"|'[^'<]*')/.exec(doc.slice(at, at + 4096));
      if (!a) break;
      at += a[0].length;
    }
    at += /^\s*/.exec(doc.slice(at, at + 256))?.[0].length ?? 0;
    const el: XmlElement = { name: qname.includes(':') ? qname.slice(qname.indexOf(':') + 1) : qname, children: [], text: '' };
    if (doc.startsWith('/>', at)) {
      at += 2;
      return el;
    }
    if (doc[at] !== '>') throw new XmlSyntaxError(`malformed start tag <${qname}`);
    at++;
    const text: string[] = [];
    for (;;) {
      if (at >= doc.length) throw new XmlSyntaxError(`unterminated element <${qname}>`);
      if (doc.startsWith('</', at)) {
        const end = doc.indexOf('>', at);
        if (end < 0 || doc.slice(at + 2, end).trim() !== qname) throw new XmlSyntaxError(`mismatched end tag for <${qname}>`);
        at = end + 1;
        el.text = text.join('');
        return el;
      }
      if (doc.startsWith('<!--', at)) {
        const end = doc.indexOf('-->', at + 4);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        at = end + 3;
      } else if (doc.startsWith('<![CDATA[', at)) {
        const end = doc.indexOf(']]>', at);
        if (end < 0) throw new XmlSyntaxError('unterminated CDATA');
        text.push(doc.slice(at + 9, end));
        at = end + 3;
      } else if (doc[at] === '<') {
        if (doc[at + 1] === '!' || doc[at + 1] === '?') throw new XmlSyntaxError('declarations and processing instructions are not accepted');
        el.children.push(element(depth + 1));
      } else {
        const next = doc.indexOf('<', at);
        const end = next < 0 ? doc.length : next;
        text.push(decodeText(doc.slice(at, end)));
        at = end;
      }
    }
  }
}

/** The first child element of that name. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

/** The text of the first child of that name. */
export function childText(el: XmlElement, name: string): string | undefined {
  return child(el, name)?.text;
}

/** Write a parsed element back (attributes were dropped; the root gets S3's namespace). */
export function serializeXml(root: XmlElement): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  const write = (el: XmlElement, top: boolean) => {
    out.push(`<${el.name}${top ? ` xmlns="${S3_XMLNS}"` : ''}>`);
    if (el.children.length > 0) el.children.forEach((c) => write(c, false));
    else out.push(escapeXml(el.text));
    out.push(`</${el.name}>`);
  };
  write(root, true);
  return out.join('');
}
