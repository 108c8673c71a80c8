import type { S3StatsSnapshot, WanS3 } from './wan-s3.js';

/** Requests and bytes one measurement cost at the S3 side (the embedded S3's and the WAN proxy's counters). */
export interface S3Traffic {
  requests: number;
  /** Object PUTs, and those of them to chunk keys (a `.chunks/` folder). */
  puts: number;
  chunkPuts: number;
  heads: number;
  /** Object GETs (bucket listings not included: see `lists`). */
  gets: number;
  /** GETs of a bucket (ListObjects). */
  lists: number;
  deletes: number;
  /** Request body bytes S3 received. */
  bytesReceived: number;
  /** Conditional PUTs S3 answered 412. */
  preconditionFailed: number;
  /** Bytes through the link towards S3 and back, headers included. */
  wireBytesUp: number;
  wireBytesDown: number;
}

/** The traffic in `s` (counters since the last reset). */
export function trafficOf(s: S3StatsSnapshot, wire: { bytesUp: number; bytesDown: number }): S3Traffic {
  const chunkPuts = Object.entries(s.putsByKey)
    .filter(([key]) => /(^|\/)\.chunks\//.test(key))
    .reduce((n, [, c]) => n + c, 0);
  return {
    requests: s.requests,
    puts: s.puts,
    chunkPuts,
    heads: s.heads,
    gets: s.objectGets,
    lists: (s.byMethod.GET ?? 0) - s.objectGets,
    deletes: s.byMethod.DELETE ?? 0,
    bytesReceived: s.bytesReceived,
    preconditionFailed: s.preconditionFailed,
    wireBytesUp: wire.bytesUp,
    wireBytesDown: wire.bytesDown,
  };
}

/** Run `fn` with the S3 counters zeroed first (scenarios run one at a time) and return its result and the traffic it caused. */
export async function measureS3Traffic<T>(s3: WanS3, fn: () => Promise<T>): Promise<{ result: T; traffic: S3Traffic }> {
  await s3.resetStats();
  const result = await fn();
  const traffic = trafficOf(await s3.s3Stats(), await s3.proxyStats());
  return { result, traffic };
}
