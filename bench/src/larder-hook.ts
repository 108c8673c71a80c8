/**
 * The interface through which the benchmark drives Larder; `larderHook` is Larder's services as separate processes
 * (larder-stack.ts). The harness also runs without a hook (`larder: undefined`, as its own tests do): then every
 * scenario measures only its baselines and leaves its Larder rows and ratios out, with a note saying so.
 */
import type { ChunkEncoder, ChunkedImage } from './image-fixture.js';
import type { RedisTarget } from './redis-bench.js';
import { larderStackHook } from './larder-stack.js';

/** How Larder reaches S3: always through the WAN proxy, with the embedded S3's credentials. */
export interface LarderS3Access {
  /** The WAN proxy's endpoint (`http://127.0.0.1:PORT`). */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Always true for s3rver. */
  pathStyle: boolean;
}

/** What the harness gives Larder when it starts a stack. */
export interface LarderStartOptions {
  s3: LarderS3Access;
  /** The images uploaded for this run, one datastore each (`image.format` is its layout, `image.prefix` its prefix). */
  images: ChunkedImage[];
  /** A private Redis, flushed by the harness before every start (so each start is cold). */
  redis: RedisTarget & { url: string };
  /** Chunk fetchers to run (the fetcher-scaling scenario sets 1, 2, 4; otherwise Larder's default). */
  fetchers?: number;
  /** Requests each fetcher works on at once (`fetcher.concurrency`); Larder's default when absent. */
  fetcherConcurrency?: number;
  /** The gateway's HTTP processes (`gateway.workers`); Larder's default (1) when absent. */
  gatewayWorkers?: number;
  /** Empty scratch directory for this stack (cache files, config, logs). */
  workDir: string;
  /** More datastores in the same bucket, by name (a scenario's own store, e.g. one made by `casync make`). */
  extraDatastores?: Record<string, ExtraDatastore>;
}

/** A datastore a scenario adds: its layout, prefix in the bench bucket, and chunk digest (the layout's default when absent). */
export interface ExtraDatastore {
  layout: 'pbs' | 'casync';
  prefix: string;
  digest?: 'sha256' | 'sha512-256';
  /** The bucket name it answers to on Larder's S3 endpoint. */
  clientBucket?: string;
}

/** The read-write access key every stack's S3 endpoint is configured with (clients of the seed-backup scenario sign with it). */
export const BENCH_ACCESS_KEY = { accessKeyId: 'larder-bench', secretAccessKey: 'larder-bench-secret' } as const;

/** A running Larder stack. */
export interface LarderStack {
  /** Gateway base URL; a chunk is at `${gatewayUrl}/v1/stores/${store}/chunks/${digest}`. */
  readonly gatewayUrl: string;
  /** Larder's S3-compatible endpoint (`http://127.0.0.1:PORT`, path style, {@link BENCH_ACCESS_KEY}); undefined when the gateway serves none. */
  s3Url(): Promise<string | undefined>;
  /** Store name of an image in chunk URLs. */
  storeName(image: ChunkedImage): string;
  /** NBD URI serving the image (e.g. `nbd://127.0.0.1:10809/<export>`). */
  nbdUri(image: ChunkedImage): string;
  /** Process ids of the gateway (the memory scenario samples their RSS). */
  gatewayPids(): number[];
  /** Every process of the stack by role (`gateway`, `chunk-fetcher`, `cache-index`): the restores read their CPU time. */
  processes(): { role: string; pid: number }[];
  /** Stop every process of the stack. */
  stop(): Promise<void>;
}

/** Index micro-benchmark figures (scenario index-throughput). */
export interface LarderIndexFigures {
  admitOpsPerSec: number;
  touchOpsPerSec: number;
}

/** Everything the benchmark needs from Larder. */
export interface LarderHook {
  /** Encode a chunk's plain bytes as stored in S3 (PBS DataBlob, casync .cacnk); stored as is when absent. */
  encodeChunk?: ChunkEncoder;
  /** Write whatever else a datastore needs for an uploaded image (its .fidx / .caidx index) with `put`. */
  writeIndex?(image: ChunkedImage, put: (key: string, body: Buffer) => Promise<void>): Promise<void>;
  /** Start a stack with an empty cache. */
  start(opts: LarderStartOptions): Promise<LarderStack>;
  /** Admit/touch throughput of the cache index against `redis`, for about `durationMs`, on keys under `keyPrefix`. */
  indexBench?(opts: { redis: RedisTarget & { url: string }; durationMs: number; keyPrefix: string }): Promise<LarderIndexFigures>;
}

/** The hook `pnpm bench` uses. */
export const larderHook: LarderHook | undefined = larderStackHook;
