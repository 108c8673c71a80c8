import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigV4Error, payloadVerifier, streamingDecoder, verifySigV4 } from './sigv4-verify.js';

// The real AWS CLI (v1, botocore) against a tiny S3 endpoint that verifies with our code: what do real clients send?
const hasAws = (() => {
  try {
    execFileSync('aws', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
})();

const KEY = 'LARDERCLITEST';
const SECRET = 'cli/secret+key=0123456789';

interface Seen {
  method: string;
  url: string;
  contentSha256: string;
  payload: string;
  presigned: boolean;
  contentEncoding?: string;
  trailer?: string;
  checksum?: string;
}

let server: Server;
let endpoint: string;
let dir: string;
const seen: Seen[] = [];
const objects = new Map<string, Buffer>();

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const verified = verifySigV4({ method: req.method!, url: req.url!, headers: req.headersDistinct }, (id) => (id === KEY ? SECRET : undefined));
    seen.push({
      method: req.method!,
      url: req.url!,
      contentSha256: verified.contentSha256,
      payload: verified.payload,
      presigned: verified.presigned,
      contentEncoding: req.headers['content-encoding'],
      trailer: req.headers['x-amz-trailer'] as string | undefined,
      checksum: verified.checksum?.algorithm,
    });
    const body: Buffer[] = [];
    await pipeline(req, verified.payload === 'streaming' ? streamingDecoder(verified) : payloadVerifier(verified), async (source: AsyncIterable<Buffer>) => {
      for await (const b of source) body.push(b);
    });
    const path = req.url!.split('?')[0]!;
    if (req.method === 'PUT') {
      objects.set(path, Buffer.concat(body));
      res.writeHead(200, { etag: '"0"' }).end();
    } else if (req.method === 'GET' && objects.has(path)) {
      const data = objects.get(path)!;
      res.writeHead(200, { 'content-length': data.length, etag: '"0"', 'last-modified': new Date().toUTCString() }).end(data);
    } else {
      res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code><Message>no</Message></Error>');
    }
  } catch (err) {
    const code = err instanceof SigV4Error ? err.code : 'InternalError';
    res.writeHead(code === 'InternalError' ? 500 : 403, { 'content-type': 'application/xml', connection: 'close' });
    res.end(`<Error><Code>${code}</Code><Message>${(err as Error).message}</Message></Error>`);
  }
}

const aws = (args: string[], secret = SECRET, configFile = '/dev/null') =>
  promisify(execFile)('aws', [...args, '--endpoint-url', endpoint], {
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_ACCESS_KEY_ID: KEY,
      AWS_SECRET_ACCESS_KEY: secret,
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: configFile,
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_MAX_ATTEMPTS: '1',
    },
  });

function fetchUrl(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 10_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe.skipIf(!hasAws)('verifySigV4 with the real aws CLI', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-sigv4-cli-'));
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
    // What the real client sent: for the gateway's S3 endpoint, which payload modes to expect.
    console.log(`aws CLI requests seen:\n${seen.map((s) => JSON.stringify(s)).join('\n')}`);
  });

  it('put-object (small and 9 MiB) and get-object round-trip, with odd keys', { timeout: 180_000 }, async () => {
    const small = join(dir, 'small');
    const large = join(dir, 'large');
    await writeFile(small, 'hello larder\n');
    const big = Buffer.alloc(9 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    await writeFile(large, big);
    for (const [key, file] of [
      ['small key+a=b~ü.txt', small],
      ['dir/large.bin', large],
    ] as const) {
      const before = seen.length;
      await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', key, '--body', file]);
      expect(seen.slice(before).map((s) => s.method)).toContain('PUT');
      const out = join(dir, 'out');
      await aws(['s3api', 'get-object', '--bucket', 'bkt', '--key', key, out]);
      expect((await readFile(out)).equals(await readFile(file))).toBe(true);
    }
    const puts = seen.filter((s) => s.method === 'PUT');
    expect(puts.every((s) => !s.presigned && ['sha256', 'unsigned', 'streaming'].includes(s.payload))).toBe(true);
  });

  it('a wrong secret is refused', { timeout: 60_000 }, async () => {
    await expect(aws(['s3api', 'get-object', '--bucket', 'bkt', '--key', 'x', join(dir, 'o')], 'wrong secret')).rejects.toThrow(/SignatureDoesNotMatch/);
  });

  it('aws s3 presign: SigV2 by default (refused, with a hint), SigV4 with s3.signature_version = s3v4', { timeout: 60_000 }, async () => {
    await writeFile(join(dir, 'p'), 'presigned body');
    await aws(['s3api', 'put-object', '--bucket', 'bkt', '--key', 'p k', '--body', join(dir, 'p')]);
    const v2 = await fetchUrl((await aws(['s3', 'presign', 's3://bkt/p k', '--expires-in', '600'])).stdout.trim());
    expect(v2.status).toBe(403);
    expect(v2.body.toString()).toMatch(/InvalidRequest.*Signature Version 2 is not supported/);
    const config = join(dir, 'config');
    await writeFile(config, '[default]\ns3 =\n    signature_version = s3v4\n');
    const url = (await aws(['s3', 'presign', 's3://bkt/p k', '--expires-in', '600'], SECRET, config)).stdout.trim();
    expect(url).toContain('X-Amz-Signature=');
    const ok = await fetchUrl(url);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe('presigned body');
    expect(seen.at(-1)).toMatchObject({ presigned: true, payload: 'unsigned' });
    const changed = await fetchUrl(url.replace('X-Amz-Expires=600', 'X-Amz-Expires=601'));
    expect(changed.status).toBe(403);
    expect(changed.body.toString()).toContain('SignatureDoesNotMatch');
  });
});
