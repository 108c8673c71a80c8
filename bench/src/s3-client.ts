import http from 'node:http';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { sleep } from './pool.js';

/** An S3 client for the embedded S3 with its own keep-alive agent. */
export interface BenchS3Client {
  client: S3Client;
  agent: http.Agent;
  /** Close the agent's sockets and the client. */
  destroy(): void;
}

/** Make an S3 client for s3rver: path style, S3RVER credentials, checksums only when required (else uploads are stored aws-chunked). */
export function makeS3Client(endpoint: string, maxSockets = 64): BenchS3Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, connectionTimeout: 30_000, requestTimeout: 120_000 }),
  });
  return {
    client,
    agent,
    destroy: () => {
      client.destroy();
      agent.destroy();
    },
  };
}

/** True for the transport errors s3rver produces under load (broken keep-alive: `Parse Error: Expected HTTP/`, resets). */
export function isRetryableError(err: unknown): boolean {
  const e = err as { message?: string; code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
  const text = `${e?.name ?? ''} ${e?.code ?? ''} ${e?.message ?? ''}`;
  if (/Parse Error|ECONNRESET|EPIPE|socket hang up|ECONNREFUSED|TimeoutError|HPE_/i.test(text)) return true;
  const status = e?.$metadata?.httpStatusCode;
  return status === 500 || status === 503;
}

/** Retry `fn` on {@link isRetryableError} up to `attempts` times; `onRetry` counts them. */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 5, onRetry?: () => void): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isRetryableError(err)) throw err;
      onRetry?.();
      await sleep(10 * i);
    }
  }
}

/** A function that stores one small object in `bucket` (its own client per call, retried as {@link withRetry}): what an index writer is handed. */
export function objectPutter(endpoint: string, bucket: string): (key: string, body: Buffer) => Promise<void> {
  return async (key, body) => {
    const c = makeS3Client(endpoint, 1);
    try {
      await withRetry(() => c.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
    } finally {
      c.destroy();
    }
  };
}
