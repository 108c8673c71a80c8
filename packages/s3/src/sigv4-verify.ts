import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform } from 'node:stream';
import { isChecksumAlgorithm, newChecksum, type ChecksumAlgorithm } from './crc.js';
import { SigV4Error } from './sigv4-error.js';
import { amzDate, canonicalHeaderValue, deriveSigningKey, hmacSha256, sha256Hex, UNSIGNED_PAYLOAD } from './sigv4.js';

/**
 * SigV4 verification of requests to Larder's S3 endpoint (header `Authorization: AWS4-HMAC-SHA256 …` and presigned
 * `X-Amz-*` query forms).
 *
 * Any region in the credential scope is accepted (clients are configured with whatever region their user typed; the
 * region only enters the signing key), but the service must be `s3`.
 */

export { SigV4Error } from './sigv4-error.js';

/**
 * The request as received: method, the raw request target (`req.url`: path and query, still percent-encoded) and headers.
 * Pass `req.headersDistinct` rather than `req.headers` to sign a header sent twice exactly as S3 does (values joined
 * by `,`; Node joins them with `, ` in `req.headers`).
 */
export interface SignedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders | NodeJS.Dict<string | string[]>;
}

/** A request whose signature checked out. */
export interface VerifiedRequest {
  accessKeyId: string;
  /**
   * How its body is to be checked: `unsigned` (UNSIGNED-PAYLOAD, and presigned URLs), `sha256` (the hex digest the client
   * signed: check the body with {@link payloadVerifier}), `streaming` (an `aws-chunked` body, any of the STREAMING-*
   * values of `x-amz-content-sha256`: decode with {@link streamingDecoder}).
   */
  payload: 'unsigned' | 'sha256' | 'streaming';
  /** The signed body digest (payload `sha256`). */
  payloadSha256?: string;
  /** `x-amz-decoded-content-length` of a streaming upload: the body's length once decoded. */
  decodedLength?: number;
  /** The `x-amz-content-sha256` value (or UNSIGNED-PAYLOAD for a presigned URL without one). */
  contentSha256: string;
  /** Streaming: whether each chunk carries a signature (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]). */
  signedChunks?: boolean;
  /** Streaming: the trailing headers announced by `x-amz-trailer` (lower-case), e.g. `['x-amz-checksum-crc32']`. */
  trailers?: string[];
  /** A whole-body checksum the client sent as an `x-amz-checksum-*` header; {@link payloadVerifier} checks it. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
  presigned: boolean;
  /** The request's signature: the seed of a streaming upload's chunk signatures. */
  signature: string;
  /** `20130524T000000Z`, credential scope and signing key: what chunk signatures are computed with. */
  amzDate: string;
  scope: string;
  signingKey: Buffer;
}

/** The secret of an access key id, or undefined for an unknown key. */
export type SecretLookup = (accessKeyId: string) => string | undefined;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60_000;
const MAX_EXPIRES_S = 7 * 24 * 3600;
const STREAMING = {
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': { signedChunks: true, trailer: false },
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': { signedChunks: true, trailer: true },
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': { signedChunks: false, trailer: true },
} as const;
const SIGV2_MESSAGE = 'Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256 (SigV4). For s3cmd set signature_v2 = False in its configuration';

const fail = (code: SigV4Error['code'], message: string): never => {
  throw new SigV4Error(code, message);
};

/** Bytes of a percent-encoded string: valid `%XX` escapes decoded, everything else taken as UTF-8 (never throws). */
function percentDecode(s: string, plusIsSpace: boolean): Buffer {
  if (!/[%+]/.test(s)) return Buffer.from(s, 'utf8');
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.from([parseInt(s.slice(i + 1, i + 3), 16)]));
      i += 2;
      start = i + 1;
    } else if (c === '+' && plusIsSpace) {
      out.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.from(' '));
      start = i + 1;
    }
  }
  out.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(out);
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** The AWS URI encoding of bytes: RFC 3986 unreserved characters kept, every other byte `%XX` (upper-case hex). */
function uriEncodeBytes(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Name and value of each query parameter, decoded (`+` is a space, as URLSearchParams reads it). */
function parseQuery(query: string): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    params.push([percentDecode(name, true).toString('utf8'), percentDecode(value, true).toString('utf8')]);
  }
  return params;
}

/** The canonical query string of a raw query: every name and value re-encoded, sorted by name then value. */
function canonicalQuery(query: string, skip?: string): string {
  const pairs: Array<[string, string]> = [];
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = uriEncodeBytes(percentDecode(eq < 0 ? part : part.slice(0, eq), true));
    if (skip !== undefined && name === skip) continue;
    pairs.push([name, uriEncodeBytes(percentDecode(eq < 0 ? '' : part.slice(eq + 1), true))]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/**
 * The canonical URIs to try for a raw path: the path as sent (what SDKs sign: S3 neither normalizes nor double-encodes),
 * then, if different, each segment decoded and re-encoded (what a client that sent e.g. a raw `$` signed as `%24`,
 * as in the AWS documentation's PUT example, computed). Both name the same object, so accepting either is safe.
 */
function canonicalPaths(rawPath: string): string[] {
  const path = rawPath || '/';
  const normalized = path
    .split('/')
    .map((segment) => uriEncodeBytes(percentDecode(segment, false)))
    .join('/');
  return normalized === path ? [path] : [path, normalized];
}

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

function canonicalHeaderLines(headers: SignedRequest['headers'], names: string[]): string {
  return names
    .map((name) => {
      const v = headers[name];
      const value = v === undefined ? '' : Array.isArray(v) ? v.map(canonicalHeaderValue).join(',') : canonicalHeaderValue(v);
      return `${name}:${value}\n`;
    })
    .join('');
}

/** `20130524T000000Z` → Date, or undefined when malformed. */
function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) || amzDate(d) !== s ? undefined : d;
}

const signaturesEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
};

interface Credential {
  accessKeyId: string;
  day: string;
  region: string;
  scope: string;
}

function parseCredential(credential: string, malformed: SigV4Error['code']): Credential {
  const parts = credential.split('/');
  if (parts.length < 5) fail(malformed, `the Credential "${credential}" is not <key id>/<yyyymmdd>/<region>/s3/aws4_request`);
  const [day, region, service, terminal] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!accessKeyId) fail(malformed, 'the Credential names no access key id');
  if (!/^\d{8}$/.test(day)) fail(malformed, `the Credential's date "${day}" is not yyyymmdd`);
  if (!region) fail(malformed, "the Credential's region is empty");
  if (service !== 's3') fail(malformed, `the Credential's service is "${service}", expected "s3"`);
  if (terminal !== 'aws4_request') fail(malformed, `the Credential must end with aws4_request, not "${terminal}"`);
  return { accessKeyId, day, region, scope: `${day}/${region}/s3/aws4_request` };
}

function parseSignedHeaders(list: string, malformed: SigV4Error['code']): string[] {
  const names = list.split(';');
  if (names.some((n) => !n || n !== n.toLowerCase() || !/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n))) {
    fail(malformed, `SignedHeaders "${list}" is not a ;-separated list of lower-case header names`);
  }
  if (!names.includes('host')) fail(malformed, 'the host header must be signed (SignedHeaders must include host)');
  return names;
}

/** Every x-amz-* header present must be signed (S3's rule): an unsigned one could be added to a captured request. */
function checkAmzHeadersSigned(headers: SignedRequest['headers'], signed: string[]): void {
  const unsigned = Object.keys(headers).filter((n) => n.toLowerCase().startsWith('x-amz-') && headers[n] !== undefined && !signed.includes(n.toLowerCase()));
  if (unsigned.length) fail('AccessDenied', `There were headers present in the request which were not signed: ${unsigned.join(', ')}`);
}

/** The payload mode of an `x-amz-content-sha256` value. */
function payloadOf(contentSha256: string, headers: SignedRequest['headers']): Pick<VerifiedRequest, 'payload' | 'payloadSha256' | 'decodedLength' | 'signedChunks' | 'trailers'> {
  if (contentSha256 === UNSIGNED_PAYLOAD) return { payload: 'unsigned' };
  if (/^[0-9a-fA-F]{64}$/.test(contentSha256)) return { payload: 'sha256', payloadSha256: contentSha256.toLowerCase() };
  const streaming = STREAMING[contentSha256 as keyof typeof STREAMING];
  if (!streaming) {
    const hint = contentSha256.includes('ECDSA') ? ' (SigV4a is not supported)' : '';
    return fail('InvalidArgument', `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or a SHA-256 in hex, not "${contentSha256}"${hint}`);
  }
  const decoded = headerValue(headers, 'x-amz-decoded-content-length');
  if (decoded === undefined) fail('MissingSecurityHeader', 'Missing required header for this request: x-amz-decoded-content-length');
  if (!/^\d{1,15}$/.test(decoded!)) fail('InvalidArgument', `x-amz-decoded-content-length "${decoded}" is not a length`);
  const trailers = (headerValue(headers, 'x-amz-trailer') ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  if (trailers.length && !streaming.trailer) fail('InvalidRequest', `x-amz-trailer is given but x-amz-content-sha256 is ${contentSha256}, which has no trailer`);
  for (const t of trailers) {
    if (!t.startsWith('x-amz-checksum-') || !isChecksumAlgorithm(t.slice('x-amz-checksum-'.length))) {
      fail('InvalidArgument', `unsupported trailing header "${t}" (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1 or -sha256)`);
    }
  }
  return { payload: 'streaming', decodedLength: Number(decoded), signedChunks: streaming.signedChunks, trailers };
}

/** A whole-body `x-amz-checksum-<algorithm>` header, if the request has one. */
function checksumHeader(headers: SignedRequest['headers']): VerifiedRequest['checksum'] {
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-checksum-') || lower === 'x-amz-checksum-type' || lower === 'x-amz-checksum-algorithm') continue;
    const algorithm = lower.slice('x-amz-checksum-'.length);
    const value = headerValue(headers, name);
    if (value !== undefined && isChecksumAlgorithm(algorithm)) return { algorithm, value: value.trim() };
  }
  return undefined;
}

/**
 * Verify a request's SigV4 signature (header or presigned form) against the secret of its access key; throws SigV4Error
 * (unknown key, malformed authorization, bad signature, a date more than 15 minutes off `now`, an expired presigned URL).
 */
export function verifySigV4(req: SignedRequest, secretOf: SecretLookup, now = new Date()): VerifiedRequest {
  let target = req.url;
  // An absolute-form target (sent to a proxy): keep path and query.
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  const params = parseQuery(rawQuery);
  const param = (name: string): string | undefined => {
    const found = params.filter(([n]) => n === name);
    if (found.length > 1) fail('AuthorizationHeaderMalformed', `the query parameter ${name} is given more than once`);
    return found[0]?.[1];
  };
  const authorization = headerValue(req.headers, 'authorization');
  const presigned = param('X-Amz-Algorithm') !== undefined || param('X-Amz-Signature') !== undefined;

  if (authorization !== undefined && /^AWS /.test(authorization)) fail('InvalidRequest', SIGV2_MESSAGE);
  if (authorization === undefined && (param('AWSAccessKeyId') !== undefined || param('Signature') !== undefined)) fail('InvalidRequest', SIGV2_MESSAGE);
  if (authorization !== undefined && presigned)
    fail('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified');
  if (authorization === undefined && !presigned) fail('AccessDenied', 'Anonymous access is not allowed: sign requests with SigV4 using one of the configured accessKeys');

  let credential: Credential;
  let signedHeaders: string[];
  let signature: string;
  let date: string;
  let contentSha256: string;
  let expires: number | undefined;
  if (authorization !== undefined) {
    const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(authorization);
    if (!m) fail('AuthorizationHeaderMalformed', `unsupported authorization: use ${ALGORITHM} (SigV4)`);
    const fields = new Map<string, string>();
    for (const field of m![1]!.split(',')) {
      const eq = field.indexOf('=');
      if (eq < 0) fail('AuthorizationHeaderMalformed', `the authorization header has a field without "=": "${field.trim()}"`);
      fields.set(field.slice(0, eq).trim(), field.slice(eq + 1).trim());
    }
    const get = (name: string): string => fields.get(name) ?? fail('AuthorizationHeaderMalformed', `the authorization header has no ${name}`);
    credential = parseCredential(get('Credential'), 'AuthorizationHeaderMalformed');
    signedHeaders = parseSignedHeaders(get('SignedHeaders'), 'AuthorizationHeaderMalformed');
    signature = get('Signature');
    const xAmzDate = headerValue(req.headers, 'x-amz-date');
    if (xAmzDate !== undefined) {
      date = xAmzDate;
    } else {
      const httpDate = headerValue(req.headers, 'date');
      const parsed = httpDate === undefined ? NaN : Date.parse(httpDate);
      if (Number.isNaN(parsed)) fail('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
      date = amzDate(new Date(parsed));
    }
    const sha = headerValue(req.headers, 'x-amz-content-sha256');
    if (sha === undefined) fail('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    contentSha256 = sha!;
  } else {
    const algorithm = param('X-Amz-Algorithm');
    if (algorithm !== ALGORITHM) fail('AuthorizationHeaderMalformed', `X-Amz-Algorithm must be ${ALGORITHM}, not "${algorithm ?? ''}"`);
    const get = (name: string): string => param(name) ?? fail('AuthorizationHeaderMalformed', `the presigned URL has no ${name} query parameter`);
    credential = parseCredential(get('X-Amz-Credential'), 'AuthorizationHeaderMalformed');
    signedHeaders = parseSignedHeaders(get('X-Amz-SignedHeaders'), 'AuthorizationHeaderMalformed');
    signature = get('X-Amz-Signature');
    date = get('X-Amz-Date');
    const e = get('X-Amz-Expires');
    if (!/^\d{1,7}$/.test(e) || Number(e) < 1) fail('AuthorizationHeaderMalformed', `X-Amz-Expires "${e}" is not a number of seconds`);
    expires = Number(e);
    if (expires > MAX_EXPIRES_S) fail('AuthorizationHeaderMalformed', `X-Amz-Expires must be less than a week (in seconds) that is; ${MAX_EXPIRES_S}`);
    contentSha256 = headerValue(req.headers, 'x-amz-content-sha256') ?? param('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD;
    if (contentSha256 in STREAMING) fail('InvalidRequest', 'a presigned URL cannot carry an aws-chunked (STREAMING-*) body');
  }

  if (param('X-Amz-Security-Token') !== undefined || headerValue(req.headers, 'x-amz-security-token') !== undefined) {
    fail('InvalidRequest', 'session tokens are not supported: sign with one of the configured accessKeys, without a session token');
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) fail('AuthorizationHeaderMalformed', 'the Signature is not 64 lower-case hex digits');
  const secret = secretOf(credential.accessKeyId);
  if (secret === undefined) fail('InvalidAccessKeyId', `The AWS Access Key Id you provided does not exist in our records: ${credential.accessKeyId}`);

  const when = parseAmzDate(date);
  if (!when) fail('AccessDenied', `the request date "${date}" is not yyyymmddThhmmssZ`);
  if (!date.startsWith(credential.day)) fail('AuthorizationHeaderMalformed', `Invalid credential date "${credential.day}": it is not the day of the request date ${date}`);
  const skew = when!.getTime() - now.getTime();
  if (expires === undefined) {
    if (Math.abs(skew) > MAX_SKEW_MS)
      fail('RequestTimeTooSkewed', `The difference between the request time (${date}) and the server's time (${amzDate(now)}) is more than 15 minutes`);
  } else {
    if (skew > MAX_SKEW_MS) fail('AccessDenied', `Request is not valid yet: it is dated ${date}, the server's time is ${amzDate(now)}`);
    if (now.getTime() > when!.getTime() + expires * 1000) fail('AccessDenied', 'Request has expired');
  }
  checkAmzHeadersSigned(req.headers, signedHeaders);
  const payload = payloadOf(contentSha256, req.headers);

  const signingKey = deriveSigningKey(secret!, credential.day, credential.region, 's3');
  const query = canonicalQuery(rawQuery, expires === undefined ? undefined : 'X-Amz-Signature');
  const headerLines = canonicalHeaderLines(req.headers, signedHeaders);
  const matched = canonicalPaths(rawPath).some((path) => {
    const canonical = `${req.method.toUpperCase()}\n${path}\n${query}\n${headerLines}\n${signedHeaders.join(';')}\n${contentSha256}`;
    const expected = hmacSha256(signingKey, `${ALGORITHM}\n${date}\n${credential.scope}\n${sha256Hex(canonical)}`).toString('hex');
    return signaturesEqual(expected, signature);
  });
  if (!matched) fail('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');

  const checksum = payload.payload === 'streaming' ? undefined : checksumHeader(req.headers);
  return {
    accessKeyId: credential.accessKeyId,
    ...payload,
    contentSha256,
    ...(checksum ? { checksum } : {}),
    presigned: expires !== undefined,
    signature,
    amzDate: date,
    scope: credential.scope,
    signingKey,
  };
}

/**
 * A pass-through that fails at the end when the body's SHA-256 is not the signed one (XAmzContentSHA256Mismatch) or
 * an `x-amz-checksum-*` header does not match (BadDigest). For an unsigned body without a checksum it only passes bytes.
 */
export function payloadVerifier(verified: VerifiedRequest): Transform {
  const sha = verified.payload === 'sha256' ? createHash('sha256') : undefined;
  const checksum = verified.checksum ? newChecksum(verified.checksum.algorithm) : undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sha?.update(chunk);
      checksum?.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      if (sha && sha.digest('hex') !== verified.payloadSha256) {
        return callback(new SigV4Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."));
      }
      if (checksum && checksum.digest() !== verified.checksum!.value) {
        return callback(new SigV4Error('BadDigest', `The ${verified.checksum!.algorithm.toUpperCase()} you specified did not match the calculated checksum.`));
      }
      callback();
    },
  });
}

export { streamingDecoder } from './aws-chunked.js';
