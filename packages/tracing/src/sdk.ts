import type { IncomingMessage } from 'node:http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

/** Requests that are not a client's: probes and scrapes would otherwise be most of the traces. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);
/** grpc.health.v1, polled by orchestrators and peers. */
const UNTRACED_RPCS = ['Check', 'Watch'];

/** The SDK with the bank's instrumentations, started; loaded only when tracing is on. */
export function startSdk(serviceName: string): { shutdown(): Promise<void> } {
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
  return sdk;
}
