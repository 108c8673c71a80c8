import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Gateway } from '@larder/gateway';
import { S3Client } from '@aws-sdk/client-s3';
import { SigV4Signer } from '@larder/s3';
import { startTestStack, type TestStack } from './test-stack.js';

/** The read-write key the S3 endpoint tests sign with, and a read-only one. */
export const TEST_KEY = { accessKeyId: 'larder-test', secretAccessKey: 'larder-test-secret' };
export const READ_ONLY_KEY = { accessKeyId: 'larder-test-ro', secretAccessKey: 'larder-test-ro-secret' };
export const REGION = 'us-east-1';

/**
 * A test stack whose gateway serves the S3 endpoint on a free port with {@link TEST_KEY} (read-write) and
 * {@link READ_ONLY_KEY}; `datastores` as in the config (give each a `clientBucket`).
 */
export async function startS3TestStack(datastores: Record<string, unknown>, opts: { fetchers?: number; config?: Record<string, unknown> } = {}): Promise<TestStack> {
  return startTestStack({
    fetchers: opts.fetchers ?? 2,
    config: {
      gateway: { listen: '127.0.0.1:0', nbdListen: '127.0.0.1:0', s3Listen: '127.0.0.1:0', touchFlushInterval: '100ms', requestTimeout: '10s' },
      accessKeys: [
        { ...TEST_KEY, buckets: ['*'], access: 'read-write' },
        { ...READ_ONLY_KEY, buckets: ['*'], access: 'read' },
      ],
      datastores,
      ...opts.config,
    },
  });
}

/** An AWS SDK client of a gateway's S3 endpoint, signing with `key` (no retries; checksums only where S3 requires them). */
export function endpointClient(g: Gateway | undefined, key: { accessKeyId: string; secretAccessKey: string } = TEST_KEY): S3Client {
  return new S3Client({
    endpoint: s3EndpointOf(g),
    region: REGION,
    forcePathStyle: true,
    credentials: key,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** `http://127.0.0.1:<port>` of a gateway's S3 endpoint; throws when it serves none (the tests must never be skipped). */
export function s3EndpointOf(g: Gateway | undefined): string {
  const url = g?.s3Url;
  if (!url) throw new Error('the test gateway serves no S3 endpoint');
  return url.replace(/\/+$/, '');
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a real client (aws, s3cmd, rclone, restic, curl) with a bounded time; never throws for a non-zero exit. */
export function runTool(cmd: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...opts.env }, cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 64 * 2 ** 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? err.message : '') });
      },
    );
  });
}

/** The environment the AWS CLI (and restic) read credentials from; no config files of the machine. */
export function awsEnv(key = TEST_KEY, dir = '/nonexistent'): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_DEFAULT_REGION: REGION,
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: `${dir}/aws-config`,
    AWS_SHARED_CREDENTIALS_FILE: `${dir}/aws-credentials`,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

export interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * An S3 client that sends exactly what Proxmox Backup Server's `proxmox-s3-client` sends (docs/pbs-s3-requests.md):
 * path style, `x-amz-content-sha256` = SHA-256 of the body, `Content-MD5` for a non-empty body, `Content-Length` on
 * PUT/POST, every header signed; keys percent-encoded like `aws_sign_v4_uri_encode` (`:` becomes `%3A`).
 */
export class PbsS3Client {
  private readonly signer: SigV4Signer;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(
    private readonly endpoint: string,
    private readonly bucket: string,
    private readonly store: string,
    key = TEST_KEY,
    region = REGION,
  ) {
    this.signer = new SigV4Signer(key, region);
  }

  close(): void {
    this.agent.destroy();
  }

  /** The full key PBS uses for a key relative to its datastore (`<store>/<rel>`). */
  fullKey(rel: string): string {
    return `${this.store}/${rel}`;
  }

  headBucket(): Promise<S3Response> {
    return this.send('HEAD', '', []);
  }

  /** `put_object`: replace=false adds `If-None-Match: *` (chunks, markers); 412 means already there. */
  putObject(rel: string, body: Buffer, replace: boolean): Promise<S3Response> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (!replace) headers['if-none-match'] = '*';
    return this.send('PUT', this.fullKey(rel), [], body, headers);
  }

  getObject(rel: string): Promise<S3Response> {
    return this.send('GET', this.fullKey(rel), []);
  }

  headObject(rel: string): Promise<S3Response> {
    return this.send('HEAD', this.fullKey(rel), []);
  }

  deleteObject(rel: string): Promise<S3Response> {
    return this.send('DELETE', this.fullKey(rel), []);
  }

  /** `list_objects_v2`: prefix relative to the datastore, no delimiter, no max-keys. */
  listObjectsV2(relPrefix: string, token?: string): Promise<S3Response> {
    const query: [string, string][] = [
      ['list-type', '2'],
      ['prefix', this.fullKey(relPrefix)],
    ];
    if (token) query.push(['continuation-token', token]);
    return this.send('GET', '', query);
  }

  /** Every key under a prefix, page by page, as PBS walks a listing. */
  async listAll(relPrefix: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const res = await this.listObjectsV2(relPrefix, token);
      if (res.status !== 200) throw new Error(`ListObjectsV2 ${relPrefix}: ${res.status} ${res.body.toString()}`);
      const xml = res.body.toString();
      for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const c = m[1] ?? '';
        out.push({ key: xmlText(c, 'Key') ?? '', size: Number(xmlText(c, 'Size')) });
      }
      if (xmlText(xml, 'IsTruncated') !== 'true') return out;
      token = xmlText(xml, 'NextContinuationToken');
      if (!token) throw new Error('truncated listing without NextContinuationToken');
    }
    throw new Error('listing does not end');
  }

  /** `delete_objects`: full keys (as listed), no Quiet. */
  deleteObjects(fullKeys: string[]): Promise<S3Response> {
    const body = Buffer.from(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${fullKeys.map((k) => `<Object><Key>${xmlEscape(k)}</Key></Object>`).join('')}</Delete>`);
    return this.send('POST', '', [['delete', '']], body);
  }

  /** `copy_object` as the corrupt-chunk rename does it. */
  copyObject(srcRel: string, dstRel: string): Promise<S3Response> {
    const source = awsUriEncode(`${this.bucket}/${this.fullKey(srcRel)}`, true);
    return this.send('PUT', this.fullKey(dstRel), [], Buffer.alloc(0), {
      'x-amz-copy-source': source,
      'content-type': 'application/octet-stream',
      'x-amz-metadata-directive': 'REPLACE',
    });
  }

  private send(method: string, fullKey: string, query: [string, string][], body?: Buffer, extra: Record<string, string> = {}): Promise<S3Response> {
    const url = new URL(this.endpoint);
    const path = `/${this.bucket}/${fullKey ? awsUriEncode(fullKey, true) : ''}`;
    const qs = query.map(([k, v]) => (v === '' ? awsUriEncode(k, false) : `${awsUriEncode(k, false)}=${awsUriEncode(v, false)}`)).join('&');
    const canonicalQuery = query
      .map(([k, v]) => `${awsUriEncode(k, false)}=${awsUriEncode(v, false)}`)
      .sort()
      .join('&');
    const payload = body ?? Buffer.alloc(0);
    const headers: Record<string, string> = { ...extra };
    if (method === 'PUT' || method === 'POST' || (method === 'DELETE' && payload.length > 0)) headers['content-length'] = String(payload.length);
    if (payload.length > 0) headers['content-md5'] = createHash('md5').update(payload).digest('base64');
    const signed = this.signer.sign({
      method,
      host: url.host,
      path,
      query: canonicalQuery,
      headers,
      payloadHash: createHash('sha256').update(payload).digest('hex'),
    });
    return new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method, path: qs ? `${path}?${qs}` : path, headers: signed, agent: this.agent, timeout: 60_000 }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
      req.on('error', reject);
      req.end(payload.length > 0 ? payload : undefined);
    });
  }
}

/** `aws_sign_v4_uri_encode` of proxmox-s3-client: unreserved characters kept, `/` kept in keys, the rest `%XX`. */
export function awsUriEncode(s: string, isKey: boolean): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (isKey && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Text of the first `<tag>` in an XML document (entities decoded). */
export function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m?.[1]
    ?.replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
