import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';

/** Gather a response body into one buffer, sized by Content-Length when known: one copy, no concatenation passes. */
async function collectBody(body: AsyncIterable<Uint8Array>, length: number | undefined): Promise<Buffer> {
  if (length === undefined) {
    const parts: Uint8Array[] = [];
    for await (const part of body) parts.push(part);
    return Buffer.concat(parts);
  }
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const part of body) {
    if (at + part.byteLength > length) throw new Error(`object body longer than its Content-Length ${length}`);
    out.set(part, at);
    at += part.byteLength;
  }
  if (at !== length) throw new Error(`object body ended after ${at} of ${length} bytes`);
  return out;
}

/** Read a whole object into memory, retrying transient failures within the policy's deadline. */
export async function getObjectBytes(
  client: S3Client,
  bucket: string,
  key: string,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (attempt: number, err: unknown) => void,
): Promise<Buffer> {
  return withRetry(
    key,
    policy,
    async (abortSignal) => {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal });
      if (!res.Body) return Buffer.alloc(0);
      return collectBody(res.Body as unknown as AsyncIterable<Uint8Array>, res.ContentLength);
    },
    onRetry,
  );
}

/** Write an object, retrying transient failures. */
export async function putObjectBytes(client: S3Client, bucket: string, key: string, body: Uint8Array, policy: RetryPolicy = DEFAULT_RETRY): Promise<void> {
  await withRetry(key, policy, (abortSignal) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength }), { abortSignal }));
}

/** Delete an object (no error when it does not exist), retrying transient failures. */
export async function deleteObject(client: S3Client, bucket: string, key: string, policy: RetryPolicy = DEFAULT_RETRY): Promise<void> {
  await withRetry(key, policy, (abortSignal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }));
}

/** Size of an object, or undefined when it does not exist. */
export async function headObjectSize(client: S3Client, bucket: string, key: string, policy: RetryPolicy = DEFAULT_RETRY): Promise<number | undefined> {
  try {
    const res = await withRetry(key, policy, (abortSignal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }));
    return res.ContentLength ?? 0;
  } catch (err) {
    if ((err as { kind?: string }).kind === 'not-found') return undefined;
    throw err;
  }
}

/** Every object key and size under a prefix. */
export async function* listObjects(client: S3Client, bucket: string, prefix: string, policy: RetryPolicy = DEFAULT_RETRY): AsyncIterable<{ key: string; size: number }> {
  let token: string | undefined;
  do {
    const res = await withRetry(prefix, policy, (abortSignal) =>
      client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal }),
    );
    for (const o of res.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0 };
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
}
