import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { getObjectBytes, headObjectSize, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_ONLY_KEY, REGION, TEST_KEY, awsEnv, runTool, s3EndpointOf, startS3TestStack } from './s3-endpoint-testing.js';
import { fetchBytes, type TestStack } from './test-stack.js';

// The real clients against the gateway's S3 endpoint: the AWS CLI, s3cmd and rclone. Each writes under its own prefix
// of the client bucket `files`, which the datastore `files` keeps in the upstream bucket `files-up`.
let stack: TestStack;
let endpoint: string;
let work: string;
let small: Buffer;
let bigFile: string;
let bigSha: string;
const BIG = 100 * 2 ** 20;

beforeAll(async () => {
  stack = await startS3TestStack({ files: { layout: 'pbs', bucket: 'files-up', clientBucket: 'files' } });
  endpoint = s3EndpointOf(stack.gateways[0]);
  work = path.join(stack.dir, 'clients');
  await mkdir(work, { recursive: true });
  small = randomBytes(300_001);
  await writeFile(path.join(work, 'small.bin'), small);
  bigFile = path.join(work, 'big.bin');
  const big = randomBytes(BIG);
  bigSha = sha256(big);
  await writeFile(bigFile, big);
  await writeFile(path.join(work, 'aws-config'), `[default]\nregion = ${REGION}\ns3 =\n  addressing_style = path\n  signature_version = s3v4\n`);
}, 120_000);
afterAll(() => stack?.cleanup());

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const fileSha = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });

/** The object as the upstream S3 server holds it (read with the SDK straight from s3rver), or undefined. */
async function upstream(key: string): Promise<Buffer | undefined> {
  const ds = stack.ds('files');
  if ((await headObjectSize(s3ClientFor(ds), ds.bucket, key)) === undefined) return undefined;
  return getObjectBytes(s3ClientFor(ds), ds.bucket, key);
}
/** Upstream PUTs of a key: the parts of a multipart upload passed through. */
const uploadedParts = (key: string) => stack.s3?.stats.putsByKey.get(`files-up/${key}`);
const upstreamSize = (key: string) => headObjectSize(s3ClientFor(stack.ds('files')), stack.ds('files').bucket, key);

describe('the AWS CLI against the S3 endpoint', () => {
  const aws = (args: string[], key = TEST_KEY, timeoutMs?: number) => runTool('aws', ['--endpoint-url', endpoint ?? '', ...args], { env: awsEnv(key, work), timeoutMs });

  it('put, get, ranged get, head, list, delete', async () => {
    const put = await aws(['s3', 'cp', path.join(work, 'small.bin'), 's3://files/aws/small.bin']);
    expect(put.code, put.stderr).toBe(0);
    expect((await upstream('aws/small.bin'))?.equals(small)).toBe(true);

    const out = path.join(work, 'aws-small.out');
    const get = await aws(['s3', 'cp', 's3://files/aws/small.bin', out]);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(small)).toBe(true);

    const ranged = path.join(work, 'aws-range.out');
    const range = await aws(['s3api', 'get-object', '--bucket', 'files', '--key', 'aws/small.bin', '--range', 'bytes=1000-200999', ranged]);
    expect(range.code, range.stderr).toBe(0);
    expect(JSON.parse(range.stdout).ContentRange).toBe(`bytes 1000-200999/${small.length}`);
    expect((await readFile(ranged)).equals(small.subarray(1000, 201000))).toBe(true);

    const head = await aws(['s3api', 'head-object', '--bucket', 'files', '--key', 'aws/small.bin']);
    expect(head.code, head.stderr).toBe(0);
    expect(JSON.parse(head.stdout).ContentLength).toBe(small.length);

    const ls = await aws(['s3', 'ls', 's3://files/aws/']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`\\s${small.length} small\\.bin`));
    const v1 = await aws(['s3api', 'list-objects', '--bucket', 'files', '--prefix', 'aws/']);
    expect(v1.code, v1.stderr).toBe(0);
    expect((JSON.parse(v1.stdout) as { Contents: { Key: string }[] }).Contents.map((c) => c.Key)).toContain('aws/small.bin');

    const rm = await aws(['s3', 'rm', 's3://files/aws/small.bin']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(await upstreamSize('aws/small.bin')).toBeUndefined();
    const gone = await aws(['s3api', 'head-object', '--bucket', 'files', '--key', 'aws/small.bin']);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/404|Not Found/);
    const missing = await aws(['s3api', 'get-object', '--bucket', 'files', '--key', 'aws/small.bin', path.join(work, 'nothing')]);
    expect(missing.stderr).toMatch(/NoSuchKey/);
  });

  it('multipart upload of a 100 MiB object (8 MiB parts), read back whole', async () => {
    const put = await aws(['s3', 'cp', bigFile, 's3://files/aws/big.bin'], TEST_KEY, 240_000);
    expect(put.code, put.stderr).toBe(0);
    expect(await upstreamSize('aws/big.bin')).toBe(BIG);
    expect(uploadedParts('aws/big.bin')).toBe(13); // 100 MiB in 8 MiB parts
    const out = path.join(work, 'aws-big.out');
    const get = await aws(['s3', 'cp', 's3://files/aws/big.bin', out], TEST_KEY, 240_000);
    expect(get.code, get.stderr).toBe(0);
    expect(await fileSha(out)).toBe(bigSha);
  }, 600_000);

  it('a presigned URL reads the object with a plain HTTP client; a tampered one is refused', async () => {
    expect((await aws(['s3', 'cp', path.join(work, 'small.bin'), 's3://files/aws/presign.bin'])).code).toBe(0);
    const signed = await aws(['s3', 'presign', 's3://files/aws/presign.bin', '--expires-in', '300']);
    expect(signed.code, signed.stderr).toBe(0);
    const url = signed.stdout.trim();
    const res = await fetchBytes(url);
    expect(res.status).toBe(200);
    expect(res.body.equals(small)).toBe(true);
    const curl = await runTool('curl', ['-sf', '-o', path.join(work, 'presign.out'), url]);
    expect(curl.code, curl.stderr).toBe(0);
    expect((await readFile(path.join(work, 'presign.out'))).equals(small)).toBe(true);
    const tampered = await fetchBytes(url.replace('presign.bin', 'presign.bin2'));
    expect(tampered.status).toBe(403);
    expect(tampered.body.toString()).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
  });

  it('a wrong secret and a read-only key cannot write: refused, nothing reaches S3', async () => {
    const putsBefore = stack.s3?.stats.puts;
    const wrong = await aws(['s3', 'cp', path.join(work, 'small.bin'), 's3://files/aws/wrong.bin'], { ...TEST_KEY, secretAccessKey: 'not-the-secret' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/SignatureDoesNotMatch/);
    const unknown = await aws(['s3', 'ls', 's3://files/'], { accessKeyId: 'nobody-here', secretAccessKey: 'whatever-secret' });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/InvalidAccessKeyId|AccessDenied/);
    const ro = await aws(['s3', 'cp', path.join(work, 'small.bin'), 's3://files/aws/ro.bin'], READ_ONLY_KEY);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/AccessDenied/);
    expect(await upstreamSize('aws/wrong.bin')).toBeUndefined();
    expect(await upstreamSize('aws/ro.bin')).toBeUndefined();
    expect(stack.s3?.stats.puts).toBe(putsBefore);
  });
});

describe('s3cmd (signature v4) against the S3 endpoint', () => {
  const s3cmd = async (args: string[], secret = TEST_KEY.secretAccessKey, timeoutMs?: number) => {
    const host = new URL(endpoint ?? 'http://127.0.0.1').host;
    const cfg = path.join(work, `s3cmd-${secret === TEST_KEY.secretAccessKey ? 'ok' : 'bad'}.cfg`);
    await writeFile(
      cfg,
      [
        '[default]',
        `access_key = ${TEST_KEY.accessKeyId}`,
        `secret_key = ${secret}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        `bucket_location = ${REGION}`,
        'use_https = False',
        'signature_v2 = False',
        'check_ssl_certificate = False',
        '',
      ].join('\n'),
    );
    return runTool('s3cmd', ['-c', cfg, '--no-progress', ...args], { timeoutMs, env: { HOME: work } });
  };

  it('put, get, list, delete', async () => {
    const put = await s3cmd(['put', path.join(work, 'small.bin'), 's3://files/s3cmd/small.bin']);
    expect(put.code, put.stderr).toBe(0);
    expect((await upstream('s3cmd/small.bin'))?.equals(small)).toBe(true);
    const out = path.join(work, 's3cmd-small.out');
    const get = await s3cmd(['get', '--force', 's3://files/s3cmd/small.bin', out]);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(small)).toBe(true);
    const ls = await s3cmd(['ls', 's3://files/s3cmd/']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/s3:\/\/files\/s3cmd\/small\.bin/);
    const del = await s3cmd(['del', 's3://files/s3cmd/small.bin']);
    expect(del.code, del.stderr).toBe(0);
    expect(await upstreamSize('s3cmd/small.bin')).toBeUndefined();
  });

  it('multipart upload of a 100 MiB object (15 MiB parts), read back whole', async () => {
    const put = await s3cmd(['put', '--multipart-chunk-size-mb=15', bigFile, 's3://files/s3cmd/big.bin'], undefined, 240_000);
    expect(put.code, put.stderr).toBe(0);
    expect(uploadedParts('s3cmd/big.bin')).toBe(7);
    expect(await upstreamSize('s3cmd/big.bin')).toBe(BIG);
    const out = path.join(work, 's3cmd-big.out');
    const get = await s3cmd(['get', '--force', 's3://files/s3cmd/big.bin', out], undefined, 240_000);
    expect(get.code, get.stderr).toBe(0);
    expect(await fileSha(out)).toBe(bigSha);
  }, 600_000);

  it('a wrong secret is refused and nothing reaches S3', async () => {
    const putsBefore = stack.s3?.stats.puts;
    const wrong = await s3cmd(['put', path.join(work, 'small.bin'), 's3://files/s3cmd/wrong.bin'], 'not-the-secret');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/SignatureDoesNotMatch|403/);
    expect(await upstreamSize('s3cmd/wrong.bin')).toBeUndefined();
    expect(stack.s3?.stats.puts).toBe(putsBefore);
  });
});

describe('rclone against the S3 endpoint', () => {
  const rcloneEnv = (secret = TEST_KEY.secretAccessKey) => ({
    RCLONE_CONFIG: path.join(work, 'rclone-none.conf'),
    RCLONE_CONFIG_LARDER_TYPE: 's3',
    RCLONE_CONFIG_LARDER_PROVIDER: 'Other',
    RCLONE_CONFIG_LARDER_ENDPOINT: endpoint ?? '',
    RCLONE_CONFIG_LARDER_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    RCLONE_CONFIG_LARDER_SECRET_ACCESS_KEY: secret,
    RCLONE_CONFIG_LARDER_REGION: REGION,
    RCLONE_CONFIG_LARDER_FORCE_PATH_STYLE: 'true',
    // The bucket is Larder's datastore: never try to create it.
    RCLONE_CONFIG_LARDER_NO_CHECK_BUCKET: 'true',
    // rclone's SDK refuses any AWS_CA_BUNDLE with its own transport (this machine sets one); the endpoint is plain HTTP.
    AWS_CA_BUNDLE: '',
  });
  const rclone = (args: string[], secret?: string, timeoutMs?: number) =>
    runTool('rclone', ['--low-level-retries', '1', '--retries', '1', ...args], { timeoutMs, env: rcloneEnv(secret) });

  it('put, get, ranged get, head, list, delete', async () => {
    const put = await rclone(['copyto', path.join(work, 'small.bin'), 'larder:files/rclone/small.bin']);
    expect(put.code, put.stderr).toBe(0);
    expect((await upstream('rclone/small.bin'))?.equals(small)).toBe(true);
    const out = path.join(work, 'rclone-small.out');
    const get = await rclone(['copyto', 'larder:files/rclone/small.bin', out]);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(small)).toBe(true);
    const cat = await runTool('sh', ['-c', 'rclone cat --offset 5000 --count 100000 larder:files/rclone/small.bin | sha256sum'], { env: rcloneEnv() });
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout.split(' ')[0]).toBe(sha256(small.subarray(5000, 105000)));
    const lsl = await rclone(['lsl', 'larder:files/rclone/']);
    expect(lsl.code, lsl.stderr).toBe(0);
    expect(lsl.stdout).toMatch(new RegExp(`^\\s*${small.length} .* small\\.bin$`, 'm'));
    const size = await rclone(['size', '--json', 'larder:files/rclone/small.bin']);
    expect(size.code, size.stderr).toBe(0);
    expect(JSON.parse(size.stdout).bytes).toBe(small.length);
    const del = await rclone(['deletefile', 'larder:files/rclone/small.bin']);
    expect(del.code, del.stderr).toBe(0);
    expect(await upstreamSize('rclone/small.bin')).toBeUndefined();
  });

  it('multipart upload of a 100 MiB object (8 MiB parts), read back whole; a public link is a working presigned URL', async () => {
    const put = await rclone(['copyto', '--s3-upload-cutoff', '8M', '--s3-chunk-size', '8M', bigFile, 'larder:files/rclone/big.bin'], undefined, 240_000);
    expect(put.code, put.stderr).toBe(0);
    expect(await upstreamSize('rclone/big.bin')).toBe(BIG);
    expect(uploadedParts('rclone/big.bin')).toBe(13);
    const out = path.join(work, 'rclone-big.out');
    const get = await rclone(['copyto', 'larder:files/rclone/big.bin', out], undefined, 240_000);
    expect(get.code, get.stderr).toBe(0);
    expect(await fileSha(out)).toBe(bigSha);

    expect((await rclone(['copyto', path.join(work, 'small.bin'), 'larder:files/rclone/link.bin'])).code).toBe(0);
    const link = await rclone(['link', '--expire', '5m', 'larder:files/rclone/link.bin']);
    expect(link.code, link.stderr).toBe(0);
    const res = await fetchBytes(link.stdout.trim());
    expect(res.status).toBe(200);
    expect(res.body.equals(small)).toBe(true);
  }, 600_000);

  it('a wrong secret is refused and nothing reaches S3', async () => {
    const putsBefore = stack.s3?.stats.puts;
    const wrong = await rclone(['copyto', path.join(work, 'small.bin'), 'larder:files/rclone/wrong.bin'], 'not-the-secret');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/SignatureDoesNotMatch|403/);
    expect(await upstreamSize('rclone/wrong.bin')).toBeUndefined();
    expect(stack.s3?.stats.puts).toBe(putsBefore);
  });
});
