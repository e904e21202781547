/**
 * The variables that turn tracing on: OpenTelemetry's own. With neither set (the default) the SDK
 * is not even loaded and nothing is patched, so tracing costs nothing, in time or memory; the
 * code's spans go to the API's no-op tracer.
 */
export const OTLP_ENDPOINT_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const;

export interface Tracing {
  readonly enabled: boolean;
  /** Sends what is buffered and stops (on shutdown, so the last spans are not lost). */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry for one deployable. It must run before anything it instruments is loaded
 * (http, express, grpc-js, pg, ioredis): each main.ts imports its tracing.ts first. The exporter is
 * OTLP over HTTP, configured by the standard OTEL_* variables (endpoint, headers, sampler).
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const configured = OTLP_ENDPOINT_VARS.some((v) => (env[v] ?? '') !== '') && env.OTEL_SDK_DISABLED !== 'true';
  if (!configured) return { enabled: false, shutdown: async () => undefined };
  // Required here, not imported above: the SDK and its instrumentations weigh tens of megabytes
  // that a service with tracing off must not carry.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startSdk } = require('./sdk') as typeof import('./sdk');
  const sdk = startSdk(serviceName);
  return { enabled: true, shutdown: () => sdk.shutdown() };
}
