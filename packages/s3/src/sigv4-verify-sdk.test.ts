import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { SigV4Error, verifySigV4, type SignedRequest } from './sigv4-verify.js';

// Requests signed by the AWS SDK's own signer (@smithy/signature-v4, as @aws-sdk/client-s3 configures it for S3: no
// double encoding of the path), verified by ours.
const KEY = 'AKIDLARDERTEST';
const SECRET = 'an odd/secret+with=chars~';
const secretOf = (id: string) => (id === KEY ? SECRET : undefined);
const NOW = new Date('2026-03-01T12:34:56Z');

const bytes = (d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);

/** The Hash the SDK signer wants, from node:crypto (HMAC when given a key). */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {}
}

const signerFor = (region: string) => new SignatureV4({ credentials: { accessKeyId: KEY, secretAccessKey: SECRET }, region, service: 's3', sha256: Sha256, uriEscapePath: false });

/** RFC 3986 encoding as the SDK puts names and values on the wire. */
const escape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const encodeKey = (key: string) => key.split('/').map(escape).join('/');

type Query = Record<string, string | string[]>;
const wireQuery = (query: Query) =>
  Object.entries(query)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${escape(k)}=${escape(x)}`))
    .join('&');

const KEYS = ['a b+c/ü€.txt', "dir/sub dir/x+y=z&q?#'(1)*!.bin", '日本語/キー', '~tilde_-.', 'pct%20literal', 'emoji 😀', 'a=b/=c', 'plain'];
const QUERIES: Query[] = [
  {},
  { 'list-type': '2', prefix: 'a b/c+d', delimiter: '/' },
  { uploads: '' },
  { partNumber: '3', uploadId: 'a/b+c==' },
  { tagging: '', 'x-id': 'PutObjectTagging' },
  { multi: ['z', 'a', ''], 'b~': '~', ü: '€ +=&' },
  { 'response-content-disposition': 'attachment; filename="a b.txt"' },
];

interface Case {
  method: string;
  key: string;
  query: Query;
  headers: Record<string, string>;
  region: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  const regions = ['us-east-1', 'eu-west-3', 'garage', 'auto'];
  let i = 0;
  for (const key of KEYS) {
    for (const query of QUERIES) {
      i++;
      const headers: Record<string, string> = { 'x-amz-content-sha256': i % 3 ? 'UNSIGNED-PAYLOAD' : createHash('sha256').update(`body ${i}`).digest('hex') };
      if (i % 2) headers['x-amz-meta-note'] = `  spaced   out\tvalue ${i} `;
      if (i % 5 === 0) headers['content-type'] = 'application/octet-stream';
      if (i % 7 === 0) headers.range = 'bytes=0-99';
      out.push({ method: ['GET', 'PUT', 'HEAD', 'DELETE', 'POST'][i % 5]!, key, query, headers, region: regions[i % regions.length]! });
    }
  }
  return out;
}

async function sdkSign(c: Case, presign?: number): Promise<SignedRequest> {
  const host = 'larder.example:8781';
  const path = `/bucket-1/${encodeKey(c.key)}`;
  const request = { method: c.method, protocol: 'http:', hostname: 'larder.example', port: 8781, path, query: { ...c.query }, headers: { host, ...c.headers } };
  const signer = signerFor(c.region);
  if (presign !== undefined) {
    // As @aws-sdk/s3-request-presigner does: an unsigned payload, carried in the query.
    const signed = await signer.presign({ ...request, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, { signingDate: NOW, expiresIn: presign });
    const query = wireQuery(signed.query as Query);
    return { method: c.method, url: query ? `${path}?${query}` : path, headers: signed.headers };
  }
  const signed = await signer.sign(request, { signingDate: NOW });
  const query = wireQuery(c.query);
  return { method: c.method, url: query ? `${path}?${query}` : path, headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v])) };
}

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    if (err instanceof SigV4Error) return err.code;
    throw err;
  }
};

describe('verifySigV4 against the AWS SDK signer', () => {
  it('accepts what the SDK signs: odd keys, repeated and empty parameters, any region', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(50);
    for (const c of all) {
      const req = await sdkSign(c);
      const v = verifySigV4(req, secretOf, NOW);
      expect(v.accessKeyId, req.url).toBe(KEY);
      expect(v.scope).toBe(`20260301/${c.region}/s3/aws4_request`);
      expect(v.payload).toBe(c.headers['x-amz-content-sha256'] === 'UNSIGNED-PAYLOAD' ? 'unsigned' : 'sha256');
    }
  });

  it('accepts what the SDK presigns, until it expires', async () => {
    for (const c of cases().filter((_, i) => i % 4 === 0)) {
      const req = await sdkSign(c, 3600);
      expect(verifySigV4(req, secretOf, NOW), req.url).toMatchObject({ payload: 'unsigned', presigned: true });
      expect(verifySigV4(req, secretOf, new Date(NOW.getTime() + 3600_000)).presigned).toBe(true);
      expect(codeOf(() => verifySigV4(req, secretOf, new Date(NOW.getTime() + 3601_000)))).toBe('AccessDenied');
    }
  });

  it('refuses the same requests tampered with', async () => {
    for (const c of cases().filter((_, i) => i % 3 === 0)) {
      for (const presign of [undefined, 600]) {
        const req = await sdkSign(c, presign);
        const [path, query] = req.url.split('?') as [string, string | undefined];
        const tampered: SignedRequest[] = [
          { ...req, url: `${path}x${query === undefined ? '' : `?${query}`}` },
          { ...req, url: `${req.url}${query === undefined ? '?' : '&'}extra=1` },
          { ...req, method: req.method === 'GET' ? 'PUT' : 'GET' },
          { ...req, headers: { ...req.headers, host: 'evil.example:8781' } },
        ];
        if (query) tampered.push({ ...req, url: `${path}?${query.replace(/=([^&]*)/, '=$1z')}` });
        if (!presign) tampered.push({ ...req, headers: { ...req.headers, 'x-amz-date': '20260301T123457Z' } });
        if (req.headers['x-amz-meta-note']) tampered.push({ ...req, headers: { ...req.headers, 'x-amz-meta-note': 'changed' } });
        for (const t of tampered)
          expect(
            codeOf(() => verifySigV4(t, secretOf, NOW)),
            `${t.method} ${t.url}`,
          ).toBe('SignatureDoesNotMatch');
      }
    }
  });
});
