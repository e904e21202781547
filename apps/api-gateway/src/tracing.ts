import { startTracing } from '@bank/tracing';

/**
 * Imported first by main.ts: OpenTelemetry's instrumentations patch http, express, grpc-js, pg and
 * ioredis as they are loaded, so they must be in place before the rest of the service is.
 */
export const tracing = startTracing('api-gateway');
