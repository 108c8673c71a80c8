import cluster from 'node:cluster';
import { AggregatorRegistry, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's one registry: every Larder metric lives here, so one `/metrics` answer holds them all (the
 * all-in-one stack runs every service in one process and serves them together).
 */
export const registry = new Registry();

let service: string | undefined;

/**
 * Name this process (`service` label on every series) and start the default process metrics (CPU, memory, event
 * loop lag, GC, open fds). Once per process: the first name wins, later calls are ignored.
 */
export function initMetrics(name: string): void {
  if (service !== undefined) return;
  service = name;
  registry.setDefaultLabels({ service: name });
  collectDefaultMetrics({ register: registry });
}

/** The Prometheus text exposition of every metric, and its content type: with {@link joinClusterMetrics}, of every worker added up. */
export async function renderMetrics(): Promise<{ body: string; contentType: string }> {
  return { body: clustered ? await clusterMetrics() : await registry.metrics(), contentType: registry.contentType };
}

const REQUEST = 'larder:cluster-metrics';
const REPLY = 'larder:cluster-metrics-reply';
let clustered = false;
let requests = 0;

/**
 * In the primary of a cluster (the gateway's supervisor, `gateway.workers` > 1): answer a worker that asks for the
 * metrics with every worker's, added up (gauges as they declare: sum, max; prom-client's own process metrics too).
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: number }) => {
    if (msg?.type !== REQUEST) return;
    aggregator.clusterMetrics().then(
      (body) => worker.send({ type: REPLY, id: msg.id, body }),
      (err: Error) => worker.send({ type: REPLY, id: msg.id, error: err.message }),
    );
  });
}

/** In a cluster worker: answer the primary's collection with this registry, and have `renderMetrics` answer for every worker. */
export function joinClusterMetrics(): void {
  if (!cluster.isWorker) return;
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener for the primary's requests.
  new AggregatorRegistry();
  clustered = true;
}

/** Every worker's metrics, from the primary; this worker's own when the primary does not answer within 5 s. */
function clusterMetrics(): Promise<string> {
  const id = requests++;
  return new Promise<string>((resolve) => {
    const done = (msg: { type?: string; id?: number; body?: string; error?: string }) => {
      if (msg?.type !== REPLY || msg.id !== id) return;
      clearTimeout(timer);
      process.off('message', done);
      if (msg.body !== undefined) resolve(msg.body);
      else void registry.metrics().then(resolve);
    };
    const timer = setTimeout(() => {
      process.off('message', done);
      void registry.metrics().then(resolve);
    }, 5000);
    process.on('message', done);
    process.send?.({ type: REQUEST, id });
  });
}
