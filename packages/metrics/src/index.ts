export { registry, initMetrics, renderMetrics, serveClusterMetrics, joinClusterMetrics } from './registry.js';
export { SummedGauge } from './summed-gauge.js';
export type { GaugeSource } from './summed-gauge.js';
export { serveMetrics } from './serve-metrics.js';
export type { MetricsServer } from './serve-metrics.js';
export * from './metrics.js';
export * from './gc-metrics.js';
