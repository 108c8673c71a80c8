import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import { newChecksum, type Checksum, type ChecksumAlgorithm } from './crc.js';
import { SigV4Error } from './sigv4-error.js';
import type { VerifiedRequest } from './sigv4-verify.js';
import { EMPTY_SHA256, hmacSha256, sha256Hex } from './sigv4.js';

/** Longest chunk header or trailer line accepted (they are ~90 bytes); bounds the memory a malformed body can take. */
export const MAX_CHUNK_LINE = 4096;
/** Largest chunk accepted: a signed chunk is held until its signature checks out (SDKs send 64 KiB). */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const MAX_TRAILER_LINES = 16;

type State = 'size' | 'data' | 'crlf' | 'trailer' | 'done';

const fail = (code: SigV4Error['code'], message: string): never => {
  throw new SigV4Error(code, message);
};

const equal = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Decodes an `aws-chunked` body (`<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n` … a 0-size chunk, trailing headers,
 * an empty line), checking each chunk's signature against the chain seeded by the request's signature, the trailer's
 * signature and checksums, and the decoded length; fails with SigV4Error. Input may be split at any byte. A signed
 * chunk's data is passed on only once its signature checks out.
 */
export function streamingDecoder(verified: VerifiedRequest): Transform {
  if (verified.payload !== 'streaming') throw new Error(`streamingDecoder: the request's payload is ${verified.payload}, not streaming`);
  const signed = verified.signedChunks === true;
  const signedTrailer = signed && verified.contentSha256.endsWith('-TRAILER');
  const expectedLength = verified.decodedLength ?? 0;
  const announced = verified.trailers ?? [];
  const checksums = new Map<string, Checksum>(announced.map((name) => [name, newChecksum(name.slice('x-amz-checksum-'.length) as ChecksumAlgorithm)]));

  let state: State = 'size';
  let line: Buffer[] = [];
  let lineLength = 0;
  let remaining = 0;
  let crlfSeen = 0;
  let total = 0;
  let previous = verified.signature;
  let chunkSignature = '';
  let hash: Hash | undefined;
  let pending: Buffer[] = [];
  const trailerLines: string[] = [];

  const chunkStringToSign = (dataSha256: string): string => `AWS4-HMAC-SHA256-PAYLOAD\n${verified.amzDate}\n${verified.scope}\n${previous}\n${EMPTY_SHA256}\n${dataSha256}`;

  const checkChunkSignature = (dataSha256: string): void => {
    const expected = hmacSha256(verified.signingKey, chunkStringToSign(dataSha256)).toString('hex');
    if (!equal(expected, chunkSignature)) fail('SignatureDoesNotMatch', 'The chunk signature we calculated does not match the signature you provided.');
    previous = chunkSignature;
  };

  const onSizeLine = (text: string): void => {
    const m = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(text);
    if (!m) fail('InvalidRequest', `malformed aws-chunked chunk header "${text.slice(0, 100)}"`);
    const size = parseInt(m![1]!, 16);
    if (size > MAX_CHUNK_SIZE) fail('InvalidRequest', `an aws-chunked chunk of ${size} bytes is larger than the ${MAX_CHUNK_SIZE} accepted`);
    if (signed) {
      const sig = /^;chunk-signature=([0-9a-f]{64})$/.exec(m![2] ?? '');
      if (!sig) fail('InvalidRequest', 'an aws-chunked chunk header lacks its chunk-signature');
      chunkSignature = sig![1]!;
    }
    total += size;
    if (total > expectedLength) fail('InvalidRequest', `the body decodes to more than x-amz-decoded-content-length (${expectedLength}) bytes`);
    if (size === 0) {
      if (signed) checkChunkSignature(EMPTY_SHA256);
      state = 'trailer';
    } else {
      remaining = size;
      if (signed) {
        hash = createHash('sha256');
        pending = [];
      }
      state = 'data';
    }
  };

  const finish = (): void => {
    if (total !== expectedLength) fail('IncompleteBody', `the body decoded to ${total} bytes, x-amz-decoded-content-length is ${expectedLength}`);
    const values = new Map<string, string>();
    let trailerSignature: string | undefined;
    const canonical: string[] = [];
    for (const text of trailerLines) {
      const colon = text.indexOf(':');
      if (colon <= 0) fail('InvalidRequest', `malformed trailing header "${text.slice(0, 100)}"`);
      const name = text.slice(0, colon).trim().toLowerCase();
      const value = text.slice(colon + 1).trim();
      if (name === 'x-amz-trailer-signature') {
        trailerSignature = value;
        continue;
      }
      if (!checksums.has(name) || values.has(name)) fail('InvalidRequest', `trailing header ${name} was not announced in x-amz-trailer (or came twice)`);
      values.set(name, value);
      canonical.push(`${name}:${value}\n`);
    }
    if (signedTrailer) {
      if (trailerSignature === undefined) fail('SignatureDoesNotMatch', 'the trailing headers lack x-amz-trailer-signature');
      const stringToSign = `AWS4-HMAC-SHA256-TRAILER\n${verified.amzDate}\n${verified.scope}\n${previous}\n${sha256Hex(canonical.join(''))}`;
      if (!equal(hmacSha256(verified.signingKey, stringToSign).toString('hex'), trailerSignature!)) {
        fail('SignatureDoesNotMatch', 'The trailer signature we calculated does not match the signature you provided.');
      }
    }
    for (const [name, checksum] of checksums) {
      const value = values.get(name);
      if (value === undefined) fail('IncompleteBody', `the trailing header ${name} announced in x-amz-trailer is missing`);
      if (checksum.digest() !== value) {
        fail('BadDigest', `The ${name.slice('x-amz-checksum-'.length).toUpperCase()} you specified did not match the calculated checksum.`);
      }
    }
    state = 'done';
  };

  const onLine = (text: string): void => {
    if (state === 'size') return onSizeLine(text);
    if (text === '') return finish();
    if (trailerLines.length >= MAX_TRAILER_LINES) fail('InvalidRequest', 'too many trailing headers');
    trailerLines.push(text);
  };

  const decode = (chunk: Buffer, push: (b: Buffer) => void): void => {
    let i = 0;
    while (i < chunk.length) {
      switch (state) {
        case 'size':
        case 'trailer': {
          const nl = chunk.indexOf(0x0a, i);
          const end = nl < 0 ? chunk.length : nl;
          lineLength += end - i;
          if (lineLength > MAX_CHUNK_LINE + 1) fail('InvalidRequest', `an aws-chunked header line is longer than ${MAX_CHUNK_LINE} bytes`);
          line.push(chunk.subarray(i, end));
          i = end;
          if (nl < 0) break;
          i = nl + 1;
          const text = Buffer.concat(line).toString('latin1');
          line = [];
          lineLength = 0;
          if (!text.endsWith('\r')) fail('InvalidRequest', 'an aws-chunked line does not end with CRLF');
          onLine(text.slice(0, -1));
          break;
        }
        case 'data': {
          const n = Math.min(remaining, chunk.length - i);
          const data = chunk.subarray(i, i + n);
          i += n;
          remaining -= n;
          for (const checksum of checksums.values()) checksum.update(data);
          if (hash) {
            hash.update(data);
            pending.push(data);
          } else {
            push(data);
          }
          if (remaining === 0) {
            if (hash) {
              checkChunkSignature(hash.digest('hex'));
              hash = undefined;
              for (const p of pending) push(p);
              pending = [];
            }
            state = 'crlf';
            crlfSeen = 0;
          }
          break;
        }
        case 'crlf': {
          if (chunk[i] !== (crlfSeen === 0 ? 0x0d : 0x0a)) fail('InvalidRequest', 'an aws-chunked chunk is not followed by CRLF');
          i++;
          if (++crlfSeen === 2) state = 'size';
          break;
        }
        case 'done':
          fail('InvalidRequest', 'data after the final aws-chunked chunk');
      }
    }
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        decode(chunk, (b) => this.push(b));
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    flush(callback) {
      if (state !== 'done') return callback(new SigV4Error('IncompleteBody', 'the aws-chunked body ended before its final chunk'));
      callback();
    },
  });
}
