import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import type { ResolvedDatastore } from '@larder/config';
import { budgeted, s3CommandClass } from './budget.js';

type Connection = Pick<ResolvedDatastore, 'endpoint' | 'region' | 'pathStyle' | 'accessKeyId' | 'secretAccessKey'> & { budget?: string };

const clients = new Map<string, S3Client>();

/**
 * An S3 client for a datastore's connection; one client (and keep-alive pool) per distinct connection and request
 * budget. Every request it sends waits for a slot of the datastore's budget first (see budgeted).
 */
export function s3ClientFor(conn: Connection, opts: { maxSockets?: number } = {}): S3Client {
  const id = JSON.stringify([conn.endpoint, conn.region, conn.pathStyle, conn.accessKeyId, conn.secretAccessKey, opts.maxSockets, conn.budget]);
  let client = clients.get(id);
  if (!client) {
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 64 };
    client = new S3Client({
      endpoint: conn.endpoint,
      region: conn.region,
      forcePathStyle: conn.pathStyle,
      credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
      // Without these, streamed uploads to s3rver are stored with aws-chunked framing (silent corruption).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1, // retries are ours, bounded by a deadline: withRetry in retry.ts
      requestHandler: {
        connectionTimeout: 3000,
        httpAgent: new http.Agent(agentOpts),
        httpsAgent: new https.Agent(agentOpts),
      },
    });
    if (conn.budget !== undefined) {
      const budget = { budget: conn.budget };
      // Each attempt (withRetry's) is one request of the budget, its answer's status seen; in the build step, before
      // signing (finalizeRequest), so that the signature's time is when the request was let go.
      client.middlewareStack.add(
        (next, context) => (args) =>
          budgeted(
            budget,
            s3CommandClass(context.commandName),
            () => next(args),
            (out) => (out.response as { statusCode?: number }).statusCode,
          ),
        { step: 'build', name: 'larderRequestBudget' },
      );
    }
    clients.set(id, client);
  }
  return client;
}

/** Destroy every cached client (tests and shutdown). */
export function destroyS3Clients(): void {
  for (const c of clients.values()) c.destroy();
  clients.clear();
}
