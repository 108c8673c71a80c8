export { initTelemetry, shutdownTelemetry, tracer } from './telemetry.js';
export type { TelemetryOptions } from './telemetry.js';
export { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
export { createLogger } from './log.js';
export type { Logger } from './log.js';
