import { trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

let provider: NodeTracerProvider | undefined;

/** Options for tracing: an exporter (tests pass an in-memory one) or an OTLP/HTTP endpoint. */
export interface TelemetryOptions {
  serviceName: string;
  exporter?: SpanExporter;
  otlpEndpoint?: string;
}

/**
 * Register the process-wide tracer provider once (W3C trace context, async-hooks context) when spans have
 * somewhere to go: an exporter or an OTLP endpoint. Without one, nothing is registered and every span is the
 * API's no-op (no context tracking on each promise, which costs a hot path on Node 20 several per cent of a core).
 */
export function initTelemetry(opts: TelemetryOptions): void {
  if (provider || (!opts.exporter && !opts.otlpEndpoint)) return;
  const spanProcessors = [];
  if (opts.exporter) spanProcessors.push(new SimpleSpanProcessor(opts.exporter));
  if (opts.otlpEndpoint) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/$/, '')}/v1/traces` })));
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    spanProcessors,
  });
  provider.register();
}

/** Flush and stop tracing (at shutdown). */
export async function shutdownTelemetry(): Promise<void> {
  const p = provider;
  provider = undefined;
  if (p) await p.shutdown();
  trace.disable();
}

/** A tracer for one component, e.g. `larder.gateway`. */
export function tracer(component: string): Tracer {
  return trace.getTracer(component);
}
