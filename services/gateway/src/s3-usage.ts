import type { IncomingMessage } from 'node:http';
import { s3StoreFields, type ChunkIndex, type S3Operation } from '@larder/redis';
import { createLogger } from '@larder/telemetry';

const log = createLogger('gateway');

/** The billed operation of a request to S3: a GET without a key lists the bucket. */
export function s3OperationOf(method: string, hasKey: boolean): S3Operation {
  switch (method) {
    case 'GET':
      return hasKey ? 'get' : 'list';
    case 'HEAD':
      return 'head';
    case 'PUT':
      return 'put';
    case 'DELETE':
      return 'delete';
    default:
      return 'post';
  }
}

/** The body bytes a request moved: a GET's answer (downloaded), a PUT's or POST's body (uploaded). */
export function s3BodyBytes(operation: S3Operation, sentBytes: number | undefined, res: IncomingMessage): number {
  if (operation === 'get') {
    const status = res.statusCode ?? 0;
    const length = Number(res.headers['content-length']);
    return status >= 200 && status < 300 && Number.isSafeInteger(length) ? length : 0;
  }
  return operation === 'put' || operation === 'post' ? (sentBytes ?? 0) : 0;
}

/**
 * This process's S3 requests by datastore and operation, added to the node's stats in Redis in batches (one pipeline
 * per interval, not one write per request), so that every process of the node adds up in one place. Kept for the next
 * flush while Redis is unreachable.
 */
export class S3UsageCounter {
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastWarning = 0;

  constructor(
    private readonly index: Pick<ChunkIndex, 'incrStats'>,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Count one request to S3 (any answer: S3 bills failed requests too) and its body bytes. */
  add(store: string, operation: S3Operation, bytes: number): void {
    const fields = s3StoreFields(store, operation);
    this.pending.set(fields.requests, (this.pending.get(fields.requests) ?? 0) + 1);
    if (bytes > 0) this.pending.set(fields.bytes, (this.pending.get(fields.bytes) ?? 0) + bytes);
  }

  /** Write what has been counted. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const deltas = Object.fromEntries(this.pending);
    this.pending = new Map();
    try {
      await this.index.incrStats(deltas);
    } catch (err) {
      for (const [field, n] of Object.entries(deltas)) this.pending.set(field, (this.pending.get(field) ?? 0) + n);
      if (Date.now() - this.lastWarning > 10_000) {
        this.lastWarning = Date.now();
        log.warn('cannot count S3 requests in the stats (kept for the next flush)', { err: (err as Error).message });
      }
    }
  }

  /** Flush and stop the timer. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
