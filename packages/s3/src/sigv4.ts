import { createHash, createHmac } from 'node:crypto';
import { isIP } from 'node:net';

/** The payload hash S3 accepts for a body it should not verify (our GETs and HEADs have none). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** SHA-256 of the empty body, which the AWS documentation's examples sign for GET. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The keys a request is signed with. */
export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** An S3 endpoint, parsed once: where to connect and what goes into the Host header. */
export interface S3Endpoint {
  https: boolean;
  /** Hostname to connect to (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** Host header suffix: the authority, with the port only when it is not the scheme's default. */
  authority: string;
  /** Path prefix of the endpoint, without a trailing slash. */
  basePath: string;
  isIp: boolean;
}

/** One request to sign: `host` is the Host header, `path` the already-encoded path (also the canonical URI). */
export interface SigV4Request {
  method: string;
  host: string;
  path: string;
  /** Canonical query string (sorted, encoded); empty for object GETs. */
  query?: string;
  /** More headers to sign and send, lower-case names (e.g. `range`). */
  headers?: Record<string, string>;
  payloadHash?: string;
  date?: Date;
}

const SAFE_KEY = /^[A-Za-z0-9\-._~/]*$/;

/** Percent-encode an object key for an S3 path: every segment per RFC 3986, slashes kept. */
export function encodeKey(key: string): string {
  if (SAFE_KEY.test(key)) return key;
  return encodeURIComponent(key)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/');
}

/** Parse an endpoint URL such as `http://127.0.0.1:9000` or `https://s3.eu-west-1.amazonaws.com`. */
export function parseEndpoint(endpoint: string): S3Endpoint {
  const url = new URL(endpoint);
  const https = url.protocol === 'https:';
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    https,
    hostname,
    port: url.port ? Number(url.port) : https ? 443 : 80,
    authority: url.host,
    basePath: url.pathname.replace(/\/+$/, ''),
    isIp: isIP(hostname) !== 0,
  };
}

/**
 * Host header and encoded path of an object (or, with no key, of the bucket): path style (`host/bucket/key`), or
 * virtual-hosted style (`bucket.host/key`) unless path style is forced, the endpoint is an IP address or the bucket is
 * no DNS label (as the SDK).
 */
export function objectTarget(ep: S3Endpoint, bucket: string, key: string | undefined, pathStyle: boolean): { host: string; path: string } {
  const vhost = !pathStyle && !ep.isIp && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
  const base = vhost ? ep.basePath : `${ep.basePath}/${encodeKey(bucket)}`;
  const path = key === undefined ? base || '/' : `${base}/${encodeKey(key)}`;
  return { host: vhost ? `${bucket}.${ep.authority}` : ep.authority, path };
}

/** `20130524T000000Z` for a date. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

/** A header value as SigV4 signs it: outer spaces and tabs trimmed, inner runs of them collapsed to one space. */
export function canonicalHeaderValue(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '').replace(/[ \t]+/g, ' ');
}

/** The canonical request of SigV4 for headers with lower-case names; returns it with the signed-headers list. */
export function canonicalRequest(req: SigV4Request, headers: Record<string, string>, payloadHash: string): { text: string; signed: string } {
  const names = Object.keys(headers).sort();
  const lines = names.map((n) => `${n}:${canonicalHeaderValue(headers[n] ?? '')}\n`).join('');
  const signed = names.join(';');
  return { text: `${req.method}\n${req.path}\n${req.query ?? ''}\n${lines}\n${signed}\n${payloadHash}`, signed };
}

export const sha256Hex = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
export const hmacSha256 = (key: string | Buffer, s: string): Buffer => createHmac('sha256', key).update(s, 'utf8').digest();

/** The SigV4 signing key of a secret for a day (`20130524`), region and service. */
export function deriveSigningKey(secret: string, day: string, region: string, service: string): Buffer {
  return hmacSha256(hmacSha256(hmacSha256(hmacSha256(`AWS4${secret}`, day), region), service), 'aws4_request');
}

/** AWS Signature Version 4 for S3 requests without a signed body; caches the derived key per day, region and service. */
export class SigV4Signer {
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly credentials: SigV4Credentials,
    private readonly region: string,
    private readonly service = 's3',
  ) {}

  /** The headers to send for a request: those given plus host, x-amz-date, x-amz-content-sha256 and authorization. */
  sign(req: SigV4Request): Record<string, string> {
    const date = amzDate(req.date ?? new Date());
    const payloadHash = req.payloadHash ?? UNSIGNED_PAYLOAD;
    const headers: Record<string, string> = { ...req.headers, host: req.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': date };
    if (this.credentials.sessionToken) headers['x-amz-security-token'] = this.credentials.sessionToken;
    const day = date.slice(0, 8);
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const { text, signed } = canonicalRequest(req, headers, payloadHash);
    const signature = createHmac('sha256', this.signingKey(day, scope))
      .update(`AWS4-HMAC-SHA256\n${date}\n${scope}\n${sha256Hex(text)}`, 'utf8')
      .digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${this.credentials.accessKeyId}/${scope},SignedHeaders=${signed},Signature=${signature}`;
    return headers;
  }

  private signingKey(day: string, scope: string): Buffer {
    let key = this.keys.get(scope);
    if (!key) {
      if (this.keys.size >= 4) this.keys.clear(); // yesterday's keys
      key = deriveSigningKey(this.credentials.secretAccessKey, day, this.region, this.service);
      this.keys.set(scope, key);
    }
    return key;
  }
}
