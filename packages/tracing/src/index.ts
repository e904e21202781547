import type { IncomingMessage } from 'node:http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

/**
 * The variables that turn tracing on: OpenTelemetry's own. With neither set (the default) no SDK
 * is loaded and nothing is patched, so tracing costs nothing; the code's spans go to the API's
 * no-op tracer.
 */
export const OTLP_ENDPOINT_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const;

/** Requests that are not a client's: probes and scrapes would otherwise be most of the traces. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);
/** grpc.health.v1, polled by orchestrators and peers. */
const UNTRACED_RPCS = ['Check', 'Watch'];

export interface Tracing {
  readonly enabled: boolean;
  /** Sends what is buffered and stops (on shutdown, so the last spans are not lost). */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry for one deployable. It must run before anything it instruments is loaded
 * (http, express, grpc-js, pg, ioredis): each main.ts calls it first. The exporter is OTLP over
 * HTTP, configured by the standard OTEL_* variables (endpoint, headers, protocol, sampler).
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const configured = OTLP_ENDPOINT_VARS.some((v) => (env[v] ?? '') !== '') && env.OTEL_SDK_DISABLED !== 'true';
  if (!configured) return { enabled: false, shutdown: async () => undefined };
  const sdk = new NodeSDK({
    serviceName,
    traceExporter: new OTLPTraceExporter(),
    // Metrics are Prometheus's (prom-client), logs are pino's: the SDK does traces only.
    metricReaders: [],
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? '') }),
      new ExpressInstrumentation(),
      new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_RPCS }),
      // Only inside a trace: the relay's polls and the queues' blocking reads would each be one otherwise.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}
