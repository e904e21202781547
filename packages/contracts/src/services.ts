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

export type ServiceName = keyof typeof DEFAULT_GRPC_PORTS;

/** A service's default gRPC address on this machine (host:port). */
export function defaultGrpcAddress(service: ServiceName): string {
  return `127.0.0.1:${DEFAULT_GRPC_PORTS[service]}`;
}
