import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  FETCH_PROGRESS_HEADER,
  FETCH_PROGRESS_INTERVAL_MS,
  FetchStatus,
  Svcm,
  contextFromHeaders,
  decodeJson,
  encodeJson,
  headers,
  subjects,
  type FetchProgress,
  type FetchReply,
  type FetchRequest,
  type NatsConnection,
  type ServiceMsg,
} from '@larder/bus';
import { resolveDatastore, type Config } from '@larder/config';
import { statusOf } from '@larder/errors';
import { SingleFlight } from '@larder/flight';
import { KnownChunks, type ChunkIndex, type FlightLocks, type Redis } from '@larder/redis';
import { withS3Priority } from '@larder/s3';
import { createLogger, tracer } from '@larder/telemetry';
import type { Volume } from '@larder/volume';
import { fetchFailure } from './fetch-failure.js';
import { FetchWorker } from './fetch-worker.js';
import { Semaphore } from './semaphore.js';
import { fetcherInFlight, fetcherQueued, fetcherSlots } from '@larder/metrics';

const log = createLogger('chunk-fetcher');
const tr = tracer('larder.chunk-fetcher');

/**
 * What one fetch of a datastore's chunk counts against `fetcher.inflightBytes`: the size a chunk of its layout
 * may reach (the body is held in memory while it is verified and written): 4 MiB for pbs, 256 KiB (casync's
 * default maximum) for casync, 16 MiB (restic's default pack size) for restic.
 */
function chunkWeight(config: Config, store: string): number {
  const layout = resolveDatastore(config, store)?.layout;
  return layout === 'casync' ? 256 * 2 ** 10 : layout === 'restic' ? 16 * 2 ** 20 : 4 * 2 ** 20;
}

/**
 * Progress messages (`Larder-Progress`, see the bus's fetch-wire.ts) for the requests that ask for them: one at once,
 * then one per reply subject every FETCH_PROGRESS_INTERVAL_MS while a request to it is held here (queued or working), so
 * that a gateway notices within seconds when this process dies and sends the request to another fetcher.
 */
class ProgressBeats {
  /** Reply subjects with the requests held for them (a request re-sent by a gateway reuses its first one's subject). */
  private readonly held = new Map<string, { msg: ServiceMsg; count: number }>();
  private timer: NodeJS.Timeout | undefined;

  /** Acknowledge a request that asks for progress and keep it beating; the returned function ends that. */
  hold(msg: ServiceMsg): () => void {
    const reply = msg.reply;
    if (!reply || !msg.headers?.has(FETCH_PROGRESS_HEADER)) return () => {};
    send(msg, 'accepted');
    const entry = this.held.get(reply);
    if (entry) entry.count++;
    else this.held.set(reply, { msg, count: 1 });
    this.timer ??= setInterval(() => {
      for (const { msg: m } of this.held.values()) send(m, 'working');
    }, FETCH_PROGRESS_INTERVAL_MS);
    this.timer.unref();
    let released = false;
    return () => {
      const e = this.held.get(reply);
      if (released || !e) return;
      released = true;
      if (--e.count === 0) this.held.delete(reply);
      if (this.held.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }
}

/** One progress message; a closed connection only means the gateway hears nothing more (and re-sends elsewhere). */
function send(msg: ServiceMsg, progress: FetchProgress): void {
  const h = headers();
  h.set(FETCH_PROGRESS_HEADER, progress);
  try {
    msg.respond(new Uint8Array(0), { headers: h });
  } catch {
    // closed or draining
  }
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
  /** For the node's record of chunks known to be in S3 (see KnownChunks); without it nothing is recorded. */
  redis?: Redis;
}): Promise<ChunkFetcher> {
  const subj = subjects(deps.config().namespace);
  const known = deps.redis
    ? new KnownChunks(deps.redis, deps.config().namespace, {
        retainMs: () => deps.config().gateway.knownChunkTtl,
        onError: (op, err) => log.warn('known chunks: Redis did not answer', { op, err: err.message }),
      })
    : undefined;
  const worker = new FetchWorker({ ...deps, known });
  const limits = () => ({ count: deps.config().fetcher.concurrency, weight: deps.config().fetcher.inflightBytes });
  const limit = new Semaphore(limits());
  const counters = { fetched: 0, failed: 0 };
  const stats = () => ({ inflight: limit.inUse, queued: limit.queued, ...counters });
  const unregister = [fetcherInFlight.add(() => limit.inUse), fetcherQueued.add(() => limit.queued), fetcherSlots.add(() => deps.config().fetcher.concurrency)];
  const beats = new ProgressBeats();
  // A request re-sent by a gateway (its fetcher seemed lost, or NATS reconnected) may come back here: it joins the one
  // under way, queued or running, instead of taking another slot. Per priority, so a client read never waits behind warming.
  const requests = new SingleFlight<FetchReply>();

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
    const release = beats.hold(msg);
    await tr.startActiveSpan(
      'chunk-fetcher fetch',
      { kind: SpanKind.SERVER, attributes: { 'larder.store': req.store, 'larder.digest': req.digest } },
      contextFromHeaders(msg.headers),
      async (span) => {
        try {
          limit.setLimits(limits());
          const weight = chunkWeight(deps.config(), req.store);
          const low = req.priority === 'low';
          const reply = await requests.run(`${low ? 'low' : 'normal'}/${req.store}/${req.digest}`, () =>
            limit.run(() => withS3Priority(low ? 'readahead' : 'client', () => worker.fetch(req.store, req.digest)), { weight, low }),
          );
          span.setAttribute('larder.source', reply.source);
          counters.fetched++;
          release();
          msg.respond(encodeJson(reply));
        } catch (err) {
          const failure = fetchFailure(err, req.store, req.digest);
          const status = statusOf(failure);
          counters.failed++;
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
          if (status >= 500 && status !== FetchStatus.Unavailable) log.warn('fetch failed', { store: req.store, digest: req.digest, status, err: failure.message });
          release();
          msg.respondError(status, failure.message);
        } finally {
          release();
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
  // Requests sent right after start find the endpoint subscribed (as the gc-worker and config-service do).
  await deps.nc.flush();

  return {
    id: service.info().id,
    stats,
    stop: async () => {
      for (const fn of unregister) fn();
      await service.stop();
      await known?.flush();
    },
  };
}
