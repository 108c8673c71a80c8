/** Options for the embedded S3-protocol server used in development and tests. */
export interface EmbeddedS3Options {
  /** Directory where s3rver keeps buckets and objects. */
  directory: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Buckets created at start (existing ones are kept). */
  buckets?: string[];
}

/** A fault the server injects into object requests, for failure tests. */
export interface S3Fault {
  /** Answer every request with this status (e.g. 503) instead of serving it. */
  status?: number;
  /** Delay each request by this many milliseconds before serving it. */
  delayMs?: number;
  /** Destroy the connection without an answer. */
  drop?: boolean;
  /** Accept requests and never answer them (a frozen S3: a stopped process, a black-holed link) until the fault is cleared; held requests are then served. */
  hang?: boolean;
  /**
   * Flip one byte in the bodies of the next `times` successful object GETs whose `bucket/key` contains `key` (any
   * key without it): corruption in transit, the object in S3 untouched. Counted down as bodies are corrupted.
   */
  corrupt?: { times: number; key?: string };
  /**
   * A provider's request-rate limit: object GETs and HEADs beyond `getsPerSecond` in one second (whole seconds of
   * the server's clock, by arrival) are answered `status` (503) with error code `code` (`SlowDown`) — some providers
   * answer 403 — and counted in `throttled`. Counted from when the fault is set. `by: 'signed'` counts each request
   * in the second of its signature's `X-Amz-Date` (when the client sent it) instead of its arrival: the seconds of a
   * client-side limiter, without the network's (or a busy event loop's) delay between sending and arriving.
   */
  rateLimit?: { getsPerSecond: number; status?: number; code?: string; by?: 'arrival' | 'signed' };
}

/** Request counters, as seen at the server. */
export interface S3ServerStats {
  requests: number;
  /** GET requests for objects (not bucket listings). */
  objectGets: number;
  objectGetBytes: number;
  puts: number;
  /** HEAD requests for objects. */
  heads: number;
  /** Requests by HTTP method (object, bucket and service requests alike). */
  byMethod: Map<string, number>;
  /** Request body bytes received (Content-Length of every request: S3 requires it on uploads). */
  bytesReceived: number;
  /** Conditional PUTs (`If-None-Match: *`) answered 412 because the object exists. */
  preconditionFailed: number;
  /** Object GETs per object key (`bucket/key`). */
  getsByKey: Map<string, number>;
  /** Object PUTs (uploads and copies) per object key (`bucket/key`). */
  putsByKey: Map<string, number>;
  /** Object HEADs per object key (`bucket/key`). */
  headsByKey: Map<string, number>;
  /** Object GETs per second of arrival (Unix seconds of the server's clock), throttled ones included. */
  getsPerSecond: Map<number, number>;
  /** Object GETs per second of their signature's `X-Amz-Date` (Unix seconds; unsigned ones by arrival), throttled ones included. */
  getsPerSignedSecond: Map<number, number>;
  /** Requests answered by the `rateLimit` fault instead of served. */
  throttled: number;
  /** Bucket LISTs (one per page of up to 1,000 keys). */
  lists: number;
  /** DeleteObjects requests (`POST ?delete`, up to 1,000 keys each). */
  deleteObjects: number;
}

/** A running embedded S3 server. */
export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly stats: S3ServerStats;
  resetStats(): void;
  setFault(fault: S3Fault | undefined): void;
  /** Stop listening and drop open connections (clients then get connection refused). */
  stop(): Promise<void>;
  /** Listen again on the same host and port after `stop` (tests of S3 outages). */
  start(): Promise<void>;
}
