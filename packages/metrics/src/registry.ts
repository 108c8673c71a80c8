import { Registry, collectDefaultMetrics } from 'prom-client';

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

/** The Prometheus text exposition of every metric, and its content type. */
export async function renderMetrics(): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
}
