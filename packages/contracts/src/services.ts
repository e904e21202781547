/**
 * Where each service listens for gRPC unless configured otherwise: the one table that configs,
 * `bank-cli up` and `bank-cli`'s commands take their defaults from.
 */
export const DEFAULT_GRPC_PORTS = {
  'auth-service': 50051,
  'user-service': 50052,
  'transaction-service': 50053,
  'payment-service': 50054,
  'notification-service': 50055,
} as const;

/**
 * Where each service serves its Prometheus metrics (its operations port) unless configured
 * otherwise: after the gateway's 9464, Prometheus's customary exporter range.
 */
export const DEFAULT_METRICS_PORTS = {
  'auth-service': 9465,
  'user-service': 9466,
  'transaction-service': 9467,
  'payment-service': 9468,
  'notification-service': 9469,
} as const;

export type ServiceName = keyof typeof DEFAULT_GRPC_PORTS;

/**
 * V8 flags every bank service runs with, wherever it is started (bank-cli up, the test bank, the
 * image's entrypoint, which check:deploy holds to this list): a young generation of 2 MiB
 * semi-spaces instead of V8's 16 MiB. Under npm run bench that took 25 to 30 MiB off each
 * service's peak RSS, with no change in latency or CPU the run could tell from its noise.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/** A service's default gRPC address on this machine (host:port). */
export function defaultGrpcAddress(service: ServiceName): string {
  return `127.0.0.1:${DEFAULT_GRPC_PORTS[service]}`;
}
