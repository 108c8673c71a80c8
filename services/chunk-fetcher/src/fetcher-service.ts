import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { FetchStatus, Svcm, contextFromHeaders, decodeJson, encodeJson, subjects, type FetchRequest, type NatsConnection, type ServiceMsg } from '@larder/bus';
import { resolveDatastore, type Config } from '@larder/config';
import { statusOf } from '@larder/errors';
import type { ChunkIndex, FlightLocks } from '@larder/redis';
import { createLogger, tracer } from '@larder/telemetry';
import type { Volume } from '@larder/volume';
import { fetchFailure } from './fetch-failure.js';
import { FetchWorker } from './fetch-worker.js';
import { Semaphore } from './semaphore.js';

const log = createLogger('chunk-fetcher');
const tr = tracer('larder.chunk-fetcher');

/**
 * What one fetch of a datastore's chunk counts against `fetcher.inflightBytes`: the size a chunk of its layout
 * may reach (the body is held in memory while it is verified and written): 4 MiB for pbs, 256 KiB (casync's
 * default maximum) for casync.
 */
function chunkWeight(config: Config, store: string): number {
  return resolveDatastore(config, store)?.layout === 'casync' ? 256 * 2 ** 10 : 4 * 2 ** 20;
}

/** A running chunk-fetcher worker. */
export interface ChunkFetcher {
  readonly id: string;
  stats(): { inflight: number; queued: number; fetched: number; failed: number };
  stop(): Promise<void>;
}

/** Start a chunk-fetcher: a NATS queue-group service whose FetchWorker brings requested chunks into the volume, with bounded concurrency. */
export async function startChunkFetcher(deps: {
  config: () => Config;
  nc: NatsConnection;
  index: ChunkIndex;
  locks: FlightLocks;
  volume: Volume;
}): Promise<ChunkFetcher> {
  const subj = subjects(deps.config().namespace);
  const worker = new FetchWorker(deps);
  const limits = () => ({ count: deps.config().fetcher.concurrency, weight: deps.config().fetcher.inflightBytes });
  const limit = new Semaphore(limits());
  const counters = { fetched: 0, failed: 0 };
  const stats = () => ({ inflight: limit.inUse, queued: limit.queued, ...counters });

  const service = await new Svcm(deps.nc).add({
    name: subj.fetcherService,
    version: '0.1.0',
    description: 'Larder chunk-fetcher: loads chunks from S3 into the local volume',
    queue: subj.fetcherService,
    statsHandler: async () => stats(),
  });

  const handle = async (msg: ServiceMsg) => {
    let req: FetchRequest;
    try {
      req = decodeJson<FetchRequest>(msg.data);
      if (typeof req?.store !== 'string' || typeof req?.digest !== 'string') throw new Error('expected {"store": string, "digest": string}');
    } catch (err) {
      msg.respondError(FetchStatus.BadRequest, `bad fetch request: ${(err as Error).message}`);
      return;
    }
    await tr.startActiveSpan(
      'chunk-fetcher fetch',
      { kind: SpanKind.SERVER, attributes: { 'larder.store': req.store, 'larder.digest': req.digest } },
      contextFromHeaders(msg.headers),
      async (span) => {
        try {
          limit.setLimits(limits());
          const weight = chunkWeight(deps.config(), req.store);
          const reply = await limit.run(() => worker.fetch(req.store, req.digest), { weight, low: req.priority === 'low' });
          span.setAttribute('larder.source', reply.source);
          counters.fetched++;
          msg.respond(encodeJson(reply));
        } catch (err) {
          const failure = fetchFailure(err, req.store, req.digest);
          const status = statusOf(failure);
          counters.failed++;
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
          if (status >= 500 && status !== FetchStatus.Unavailable) log.warn('fetch failed', { store: req.store, digest: req.digest, status, err: failure.message });
          msg.respondError(status, failure.message);
        } finally {
          span.end();
        }
      },
    );
  };

  service.addEndpoint('fetch', {
    subject: subj.fetch,
    handler: (err, msg) => {
      if (err) return log.error('fetch endpoint stopped', { err });
      void handle(msg);
    },
  });

  return {
    id: service.info().id,
    stats,
    stop: async () => {
      await service.stop();
    },
  };
}
