import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { SigV4Error, payloadVerifier, verifySigV4, type SignedRequest, type VerifiedRequest } from './sigv4-verify.js';
import { EMPTY_SHA256, SigV4Signer } from './sigv4.js';

// The AWS documentation's examples (S3 API reference, "Signature Calculations for the Authorization Header", "Authenticating
// Requests: Using Query Parameters"): these credentials, 20130524T000000Z, us-east-1.
const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = new Date('2013-05-24T00:00:00Z');
const secretOf = (id: string) => (id === KEY ? SECRET : undefined);
const HOST = 'examplebucket.s3.amazonaws.com';

const auth = (signed: string, signature: string) => `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signed},Signature=${signature}`;

const docGetObject = (): SignedRequest => ({
  method: 'GET',
  url: '/test.txt',
  headers: {
    host: HOST,
    range: 'bytes=0-9',
    'x-amz-content-sha256': EMPTY_SHA256,
    'x-amz-date': '20130524T000000Z',
    authorization: auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
  },
});

const PUT_SHA = '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072'; // of 'Welcome to Amazon S3.'
const docPutObject = (url = '/test%24file.text'): SignedRequest => ({
  method: 'PUT',
  url,
  headers: {
    host: HOST,
    date: 'Fri, 24 May 2013 00:00:00 GMT',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': PUT_SHA,
    authorization: auth('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
  },
});

const docBucketGet = (url: string, signature: string): SignedRequest => ({
  method: 'GET',
  url,
  headers: {
    host: HOST,
    'x-amz-content-sha256': EMPTY_SHA256,
    'x-amz-date': '20130524T000000Z',
    authorization: auth('host;x-amz-content-sha256;x-amz-date', signature),
  },
});
const LIFECYCLE_SIG = 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543';
const LIST_SIG = '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7';

const PRESIGNED =
  '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
  '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
  '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
const docPresigned = (url = PRESIGNED): SignedRequest => ({ method: 'GET', url, headers: { host: HOST } });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SigV4Error) return err.code;
    throw err;
  }
  return 'accepted';
}

const withHeaders = (req: SignedRequest, headers: Record<string, string | undefined>): SignedRequest => ({ ...req, headers: { ...req.headers, ...headers } });

describe('verifySigV4: the AWS documentation examples', () => {
  it('GET object with a Range header', () => {
    const v = verifySigV4(docGetObject(), secretOf, NOW);
    expect(v).toMatchObject({ accessKeyId: KEY, payload: 'sha256', payloadSha256: EMPTY_SHA256, presigned: false, scope: '20130524/us-east-1/s3/aws4_request' });
    expect(v.signature).toBe('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it('PUT object, the key with `$` sent encoded (as clients do) or raw (as the documentation shows it)', () => {
    expect(verifySigV4(docPutObject(), secretOf, NOW)).toMatchObject({ payload: 'sha256', payloadSha256: PUT_SHA });
    expect(verifySigV4(docPutObject('/test$file.text'), secretOf, NOW).payload).toBe('sha256');
  });

  it('GET bucket lifecycle (a parameter without value) and list objects (sorted parameters)', () => {
    expect(verifySigV4(docBucketGet('/?lifecycle', LIFECYCLE_SIG), secretOf, NOW).payload).toBe('sha256');
    expect(verifySigV4(docBucketGet('/?lifecycle=', LIFECYCLE_SIG), secretOf, NOW).payload).toBe('sha256');
    expect(verifySigV4(docBucketGet('/?max-keys=2&prefix=J', LIST_SIG), secretOf, NOW).payload).toBe('sha256');
    // The order on the wire and an equivalent encoding do not matter; the value does.
    expect(verifySigV4(docBucketGet('/?prefix=%4A&max-keys=2', LIST_SIG), secretOf, NOW).payload).toBe('sha256');
    expect(codeOf(() => verifySigV4(docBucketGet('/?max-keys=2&prefix=K', LIST_SIG), secretOf, NOW))).toBe('SignatureDoesNotMatch');
  });

  it('the presigned URL, valid for its 86400 s', () => {
    expect(verifySigV4(docPresigned(), secretOf, NOW)).toMatchObject({ payload: 'unsigned', presigned: true, contentSha256: 'UNSIGNED-PAYLOAD' });
    expect(verifySigV4(docPresigned(), secretOf, new Date(NOW.getTime() + 86_400_000)).presigned).toBe(true);
    const late = () => verifySigV4(docPresigned(), secretOf, new Date(NOW.getTime() + 86_401_000));
    expect(codeOf(late)).toBe('AccessDenied');
    expect(late).toThrow(/Request has expired/);
    expect(codeOf(() => verifySigV4(docPresigned(), secretOf, new Date(NOW.getTime() - 16 * 60_000)))).toBe('AccessDenied');
  });
});

describe('verifySigV4: refusals', () => {
  it('anything signed that changed', () => {
    const tampered: SignedRequest[] = [
      { ...docGetObject(), url: '/test.txt2' },
      { ...docGetObject(), url: '/test.txt?x=1' },
      { ...docGetObject(), method: 'DELETE' },
      withHeaders(docGetObject(), { range: 'bytes=0-10' }),
      withHeaders(docGetObject(), { host: 'other.s3.amazonaws.com' }),
      withHeaders(docGetObject(), { 'x-amz-date': '20130524T000001Z' }),
      withHeaders(docGetObject(), { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }),
      withHeaders(docPutObject(), { 'x-amz-storage-class': 'STANDARD' }),
      docPresigned(PRESIGNED.replace('X-Amz-Expires=86400', 'X-Amz-Expires=86401')),
      docPresigned(PRESIGNED.replace('/test.txt', '/test.txt2')),
      docPresigned(`${PRESIGNED}&extra=1`),
      // Encoding the same name differently is another object ('a/b' vs 'a%2Fb').
      { ...docGetObject(), url: '/test%2Etxt%2F' },
    ];
    for (const req of tampered)
      expect(
        codeOf(() => verifySigV4(req, secretOf, NOW)),
        JSON.stringify(req),
      ).toBe('SignatureDoesNotMatch');
  });

  it('a wrong secret, an unknown key', () => {
    expect(codeOf(() => verifySigV4(docGetObject(), () => 'another secret', NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => verifySigV4(docGetObject(), () => undefined, NOW))).toBe('InvalidAccessKeyId');
    expect(codeOf(() => verifySigV4(docPresigned(), () => undefined, NOW))).toBe('InvalidAccessKeyId');
  });

  it('a request dated more than 15 minutes from now', () => {
    for (const minutes of [15, -15]) expect(verifySigV4(docGetObject(), secretOf, new Date(NOW.getTime() + minutes * 60_000)).payload).toBe('sha256');
    for (const minutes of [15.1, -15.1]) {
      expect(codeOf(() => verifySigV4(docGetObject(), secretOf, new Date(NOW.getTime() + minutes * 60_000)))).toBe('RequestTimeTooSkewed');
    }
  });

  it('no authentication, SigV2, other schemes', () => {
    expect(codeOf(() => verifySigV4({ method: 'GET', url: '/b/k', headers: { host: 'h' } }, secretOf, NOW))).toBe('AccessDenied');
    const v2 = () => verifySigV4({ method: 'GET', url: '/b/k', headers: { host: 'h', authorization: `AWS ${KEY}:frJIUN8DYpKDtOLCwo//yllqDzg=` } }, secretOf, NOW);
    expect(codeOf(v2)).toBe('InvalidRequest');
    expect(v2).toThrow(/signature_v2 = False/);
    expect(codeOf(() => verifySigV4({ method: 'GET', url: `/b/k?AWSAccessKeyId=${KEY}&Expires=1&Signature=x`, headers: { host: 'h' } }, secretOf, NOW))).toBe('InvalidRequest');
    expect(codeOf(() => verifySigV4(withHeaders(docGetObject(), { authorization: 'Bearer x' }), secretOf, NOW))).toBe('AuthorizationHeaderMalformed');
    expect(codeOf(() => verifySigV4({ ...docPresigned(), headers: { host: HOST, authorization: docGetObject().headers.authorization } }, secretOf, NOW))).toBe('InvalidArgument');
  });

  it('malformed authorization', () => {
    const malformed = [
      auth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8').replace(/Signature=.*/, 'Signature=xyz'),
      auth('range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
      auth('Host;range', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
      auth('host', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41').replace('/s3/', '/ec2/'),
      auth('host', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41').replace('aws4_request', 'aws5_request'),
      auth('host', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41').replace('20130524/', '20130525/'),
      `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1/s3/aws4_request`,
    ];
    for (const a of malformed)
      expect(
        codeOf(() => verifySigV4(withHeaders(docGetObject(), { authorization: a }), secretOf, NOW)),
        a,
      ).toBe('AuthorizationHeaderMalformed');
    expect(codeOf(() => verifySigV4(docPresigned(PRESIGNED.replace('86400', '604801')), secretOf, NOW))).toBe('AuthorizationHeaderMalformed');
    expect(codeOf(() => verifySigV4(docPresigned(PRESIGNED.replace('X-Amz-SignedHeaders=host', 'X-Amz-SignedHeaders=x-amz-date')), secretOf, NOW))).toBe(
      'AuthorizationHeaderMalformed',
    );
  });

  it('missing or unusable headers', () => {
    expect(codeOf(() => verifySigV4(withHeaders(docGetObject(), { 'x-amz-content-sha256': undefined }), secretOf, NOW))).toBe('InvalidRequest');
    expect(codeOf(() => verifySigV4(withHeaders(docGetObject(), { 'x-amz-date': undefined }), secretOf, NOW))).toBe('AccessDenied');
    expect(codeOf(() => verifySigV4(withHeaders(docGetObject(), { 'x-amz-content-sha256': 'whatever' }), secretOf, NOW))).toBe('InvalidArgument');
    // An x-amz-* header added to a signed request.
    const added = () => verifySigV4(withHeaders(docGetObject(), { 'x-amz-copy-source': '/other/key' }), secretOf, NOW);
    expect(codeOf(added)).toBe('AccessDenied');
    expect(added).toThrow(/not signed: x-amz-copy-source/);
    // Other unsigned headers are fine.
    expect(verifySigV4(withHeaders(docGetObject(), { 'user-agent': 'x' }), secretOf, NOW).payload).toBe('sha256');
    const streaming = new SigV4Signer({ accessKeyId: KEY, secretAccessKey: SECRET }, 'us-east-1').sign({
      method: 'PUT',
      host: HOST,
      path: '/k',
      payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      date: NOW,
    });
    expect(codeOf(() => verifySigV4({ method: 'PUT', url: '/k', headers: streaming }, secretOf, NOW))).toBe('MissingSecurityHeader');
  });
});

describe('verifySigV4: details', () => {
  const signer = new SigV4Signer({ accessKeyId: KEY, secretAccessKey: SECRET }, 'eu-central-7');
  const sign = (headers: Record<string, string>, path = '/b/k', query = ''): SignedRequest => ({
    method: 'PUT',
    url: query ? `${path}?${query}` : path,
    headers: signer.sign({ method: 'PUT', host: 'h:81', path, query, headers, payloadHash: 'UNSIGNED-PAYLOAD', date: NOW }),
  });

  it('any region; the date header when there is no x-amz-date', () => {
    expect(verifySigV4(sign({}), secretOf, NOW).scope).toBe('20130524/eu-central-7/s3/aws4_request');
  });

  it('header values trimmed and inner whitespace collapsed; a header sent twice joined with ","', () => {
    const req = sign({ 'x-amz-meta-a': 'x y', 'x-amz-meta-b': '1,2' });
    expect(verifySigV4(withHeaders(req, { 'x-amz-meta-a': ' x  \t y ' }), secretOf, NOW).payload).toBe('unsigned');
    expect(verifySigV4({ ...req, headers: { ...req.headers, 'x-amz-meta-b': ['1', ' 2'] } }, secretOf, NOW).payload).toBe('unsigned');
  });

  it('session tokens are refused', () => {
    expect(codeOf(() => verifySigV4(withHeaders(sign({ 'x-amz-security-token': 't' }), {}), secretOf, NOW))).toBe('InvalidRequest');
  });

  it('an x-amz-checksum-* header is kept for payloadVerifier', () => {
    expect(verifySigV4(sign({ 'x-amz-checksum-crc32': 'NSRBwg==' }), secretOf, NOW).checksum).toEqual({ algorithm: 'crc32', value: 'NSRBwg==' });
  });
});

async function through(verified: VerifiedRequest, body: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([body.subarray(0, 5), body.subarray(5)]), payloadVerifier(verified), async (source: AsyncIterable<Buffer>) => {
    for await (const b of source) out.push(b);
  });
  return Buffer.concat(out);
}

describe('payloadVerifier', () => {
  const body = Buffer.from('Welcome to Amazon S3.');

  it('passes a body whose SHA-256 was signed, refuses another', async () => {
    const v = verifySigV4(docPutObject(), secretOf, NOW);
    expect((await through(v, body)).toString()).toBe('Welcome to Amazon S3.');
    await expect(through(v, Buffer.from('Welcome to Amazon S4.'))).rejects.toMatchObject({ code: 'XAmzContentSHA256Mismatch' });
  });

  it('checks an x-amz-checksum-* header', async () => {
    const v: VerifiedRequest = { ...verifySigV4(docPresigned(), secretOf, NOW), checksum: { algorithm: 'crc32', value: 'NSRBwg==' } };
    expect((await through(v, Buffer.from('abc'))).toString()).toBe('abc');
    await expect(through(v, Buffer.from('abd'))).rejects.toMatchObject({ code: 'BadDigest' });
  });
});
