import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { newChecksum } from './crc.js';
import { streamingDecoder, verifySigV4, type SignedRequest, type VerifiedRequest } from './sigv4-verify.js';
import { EMPTY_SHA256, hmacSha256, sha256Hex } from './sigv4.js';

// The AWS documentation's chunked upload examples ("Transferring Payload in Multiple Chunks" and "Including Trailing
// Headers"): 65536 + 1024 bytes of 'a', then the final 0-size chunk.
const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = new Date('2013-05-24T00:00:00Z');
const secretOf = (id: string) => (id === KEY ? SECRET : undefined);

const DOC = {
  plain: {
    payload: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    signed: 'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
    seed: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
    chunks: [
      'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
      '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
      'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
    ],
    trailer: '',
  },
  trailer: {
    payload: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    signed: 'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
    seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
    chunks: [
      'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
      '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
      '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
    ],
    trailer: 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n',
  },
};

function docBody(example: (typeof DOC)[keyof typeof DOC]): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${example.chunks[0]}\r\n`),
    Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${example.chunks[1]}\r\n`),
    Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${example.chunks[2]}\r\n${example.trailer}\r\n`),
  ]);
}

function docRequest(example: (typeof DOC)[keyof typeof DOC]): SignedRequest {
  const headers: Record<string, string> = {
    'content-encoding': 'aws-chunked',
    host: 's3.amazonaws.com',
    'x-amz-content-sha256': example.payload,
    'x-amz-date': '20130524T000000Z',
    'x-amz-decoded-content-length': '66560',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${example.signed},Signature=${example.seed}`,
  };
  if (example === DOC.plain) headers['content-length'] = '66824';
  else headers['x-amz-trailer'] = 'x-amz-checksum-crc32c';
  return { method: 'PUT', url: '/examplebucket/chunkObject.txt', headers };
}

/** Decode `body` fed in pieces of `step` bytes. */
async function decode(verified: VerifiedRequest, body: Buffer, step = 65536): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += step) pieces.push(body.subarray(i, i + step));
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), streamingDecoder(verified), async (source: AsyncIterable<Buffer>) => {
    for await (const b of source) out.push(b);
  });
  return Buffer.concat(out);
}

/** An aws-chunked body as an SDK frames it: signed chunks chained from `verified`'s signature, optional trailers. */
function frame(verified: VerifiedRequest, chunks: Buffer[], opts: { signed: boolean; trailers?: Record<string, string> }): Buffer {
  let previous = verified.signature;
  const sign = (stringToSign: string) => (previous = hmacSha256(verified.signingKey, stringToSign).toString('hex'));
  const parts: Buffer[] = [];
  for (const data of [...chunks, Buffer.alloc(0)]) {
    const ext = opts.signed ? `;chunk-signature=${sign(`AWS4-HMAC-SHA256-PAYLOAD\n${verified.amzDate}\n${verified.scope}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(data)}`)}` : '';
    parts.push(Buffer.from(`${data.length.toString(16)}${ext}\r\n`), data);
    if (data.length) parts.push(Buffer.from('\r\n'));
  }
  const trailers = Object.entries(opts.trailers ?? {});
  let trailer = trailers.map(([n, v]) => `${n}:${v}\r\n`).join('');
  if (opts.signed && trailers.length) {
    const canonical = trailers.map(([n, v]) => `${n}:${v}\n`).join('');
    trailer += `x-amz-trailer-signature:${sign(`AWS4-HMAC-SHA256-TRAILER\n${verified.amzDate}\n${verified.scope}\n${previous}\n${sha256Hex(canonical)}`)}\r\n`;
  }
  parts.push(Buffer.from(`${trailer}\r\n`));
  return Buffer.concat(parts);
}

describe('streamingDecoder: the AWS documentation examples', () => {
  for (const [name, example] of Object.entries(DOC)) {
    it(`${name}: decodes whole, and fed one byte at a time`, async () => {
      const verified = verifySigV4(docRequest(example), secretOf, NOW);
      expect(verified).toMatchObject({ payload: 'streaming', decodedLength: 66560, signedChunks: true });
      const body = docBody(example);
      if (example === DOC.plain) expect(body.length).toBe(66824);
      expect(await decode(verified, body)).toEqual(Buffer.alloc(66560, 'a'));
      expect(await decode(verified, body, 1)).toEqual(Buffer.alloc(66560, 'a'));
      expect(await decode(verified, body, 7)).toEqual(Buffer.alloc(66560, 'a'));
    });

    it(`${name}: refuses a changed byte, a changed signature, a cut body`, async () => {
      const verified = verifySigV4(docRequest(example), secretOf, NOW);
      const body = docBody(example);
      const changed = Buffer.from(body);
      changed[1000] = 'b'.charCodeAt(0);
      await expect(decode(verified, changed)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
      const swapped = Buffer.from(body.toString('latin1').replace(example.chunks[1]!, example.chunks[0]!), 'latin1');
      await expect(decode(verified, swapped)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
      for (const cut of [10, 65600, body.length - 3, body.length - 1]) {
        await expect(decode(verified, body.subarray(0, cut)), `cut at ${cut}`).rejects.toMatchObject({ code: 'IncompleteBody' });
      }
      await expect(decode(verified, Buffer.concat([body, Buffer.from('x')]))).rejects.toMatchObject({ code: 'InvalidRequest' });
    });
  }

  it('refuses the right chunks under another seed (a changed header)', async () => {
    const req = docRequest(DOC.plain);
    const verified = verifySigV4(req, secretOf, NOW);
    await expect(decode({ ...verified, signature: DOC.trailer.seed }, docBody(DOC.plain))).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  it('refuses a trailer with a changed checksum or signature', async () => {
    const verified = verifySigV4(docRequest(DOC.trailer), secretOf, NOW);
    const wrongSum = Buffer.from(docBody(DOC.trailer).toString('latin1').replace('sOO8/Q==', 'sOO8/A=='), 'latin1');
    await expect(decode(verified, wrongSum)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    const noSig = Buffer.from(
      docBody(DOC.trailer)
        .toString('latin1')
        .replace(/x-amz-trailer-signature:.*\r\n/, ''),
      'latin1',
    );
    await expect(decode(verified, noSig)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
  });
});

describe('streamingDecoder: framing', () => {
  const base = verifySigV4(docRequest(DOC.plain), secretOf, NOW);
  const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
  const parts = [data.subarray(0, 8192), data.subarray(8192, 70000), data.subarray(70000)];
  const as = (overrides: Partial<VerifiedRequest>): VerifiedRequest => ({ ...base, decodedLength: data.length, ...overrides });

  it('signed chunks of any sizes, with checksum trailers of every algorithm', async () => {
    expect(await decode(as({}), frame(as({}), parts, { signed: true }), 1000)).toEqual(data);
    for (const algorithm of ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const) {
      const name = `x-amz-checksum-${algorithm}`;
      const sum = newChecksum(algorithm);
      sum.update(data);
      const v = as({ contentSha256: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', trailers: [name] });
      expect(await decode(v, frame(v, parts, { signed: true, trailers: { [name]: sum.digest() } }), 999)).toEqual(data);
    }
  });

  it('unsigned chunks with a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER), byte by byte', async () => {
    const sum = newChecksum('crc32');
    sum.update(data);
    const v = as({ contentSha256: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', signedChunks: false, trailers: ['x-amz-checksum-crc32'] });
    const body = frame(v, parts, { signed: false, trailers: { 'x-amz-checksum-crc32': sum.digest() } });
    expect(await decode(v, body, 1)).toEqual(data);
    const bad = frame(v, parts, { signed: false, trailers: { 'x-amz-checksum-crc32': 'AAAAAA==' } });
    await expect(decode(v, bad)).rejects.toMatchObject({ code: 'BadDigest' });
    const missing = frame(v, parts, { signed: false });
    await expect(decode(v, missing)).rejects.toMatchObject({ code: 'IncompleteBody' });
    const unannounced = frame(v, parts, { signed: false, trailers: { 'x-amz-checksum-crc32': sum.digest(), 'x-amz-meta-x': '1' } });
    await expect(decode(v, unannounced)).rejects.toMatchObject({ code: 'InvalidRequest' });
  });

  it('refuses a decoded length other than announced', async () => {
    await expect(decode(as({ decodedLength: data.length + 1 }), frame(as({}), parts, { signed: true }))).rejects.toMatchObject({ code: 'IncompleteBody' });
    await expect(decode(as({ decodedLength: data.length - 1 }), frame(as({}), parts, { signed: true }))).rejects.toMatchObject({ code: 'InvalidRequest' });
  });

  it('refuses malformed framing and oversized lines or chunks', async () => {
    const v = as({ contentSha256: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', signedChunks: false, trailers: [], decodedLength: 3 });
    const bodies = [
      'zz\r\nabc\r\n0\r\n\r\n',
      '3\nabc\r\n0\r\n\r\n',
      '3\r\nabcX\r\n0\r\n\r\n',
      `3;${'x'.repeat(5000)}\r\nabc\r\n0\r\n\r\n`,
      '1000001\r\n',
      '3\r\nabc\r\n0\r\n\r\n\r\n',
    ];
    for (const body of bodies) await expect(decode(v, Buffer.from(body), 1), body.slice(0, 20)).rejects.toMatchObject({ code: 'InvalidRequest' });
    expect((await decode(v, Buffer.from('3\r\nabc\r\n0\r\n\r\n'), 1)).toString()).toBe('abc');
    // A signed mode needs every chunk signature.
    await expect(decode(as({ decodedLength: 3 }), Buffer.from('3\r\nabc\r\n0\r\n\r\n'))).rejects.toMatchObject({ code: 'InvalidRequest' });
  });

  it('passes on no data of a signed chunk whose signature is wrong', async () => {
    const body = frame(as({}), parts, { signed: true });
    const sig = /chunk-signature=([0-9a-f]{64})/.exec(body.toString('latin1'))![1]!;
    const bad = Buffer.from(body.toString('latin1').replace(sig, '0'.repeat(64)), 'latin1');
    const decoder = streamingDecoder(as({}));
    const out: Buffer[] = [];
    decoder.on('data', (b: Buffer) => out.push(b));
    await expect(pipeline(Readable.from([bad]), decoder)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(out).toEqual([]);
  });
});
