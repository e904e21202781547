import { KNOWN_ENV_VARS, commonSchema, hostPort, loadConfigOrExit, tokenVerifierSchema, v, type ConfigOf } from '@bank/platform';
import { AUTH_RATE_LIMIT, GENERAL_RATE_LIMIT } from './http/rate-limit';
import { defaultGrpcAddress } from '@bank/contracts';

export const SERVICE_NAME = 'api-gateway';
/** Prometheus's customary exporter port. */
export const DEFAULT_PORT = 8080;
export const DEFAULT_OPS_PORT = 9464;

export const schema = {
  ...commonSchema,
  ...tokenVerifierSchema,
  GATEWAY_PORT: v.port('HTTP port of the api-gateway', DEFAULT_PORT),
  // Metrics and the detailed readiness: for Prometheus and the operators' network, not the public.
  GATEWAY_OPS_PORT: v.port('HTTP port of the api-gateway\'s operations endpoints (/metrics, /readyz with detail); 0 picks a free one', DEFAULT_OPS_PORT),
  // Behind a load balancer every client would otherwise share one rate-limit counter (the proxy's
  // address); the count of trusted proxy hops makes X-Forwarded-For name the client.
  GATEWAY_TRUSTED_PROXY_HOPS: v.int('reverse-proxy hops in front of the gateway whose X-Forwarded-For is trusted', { default: 0, min: 0, max: 10 }),
  USER_GRPC_ADDR: hostPort('gRPC address of user-service', defaultGrpcAddress('user-service')),
  LEDGER_GRPC_ADDR: hostPort('gRPC address of transaction-service (the ledger)', defaultGrpcAddress('transaction-service')),
  PAYMENT_GRPC_ADDR: hostPort('gRPC address of payment-service', defaultGrpcAddress('payment-service')),
  // Per client address per minute; the defaults are production's. Local end-to-end runs, where
  // every simulated user comes from 127.0.0.1, raise them.
  GATEWAY_RATE_LIMIT_PER_MIN: v.int('requests per minute per client on /v1', { default: GENERAL_RATE_LIMIT.limit, min: 1, max: 1_000_000 }),
  GATEWAY_AUTH_RATE_LIMIT_PER_MIN: v.int('login and signup attempts per minute per client', { default: AUTH_RATE_LIMIT.limit, min: 1, max: 1_000_000 }),
};

export type Config = ConfigOf<typeof schema>;

/**
 * The gRPC peers the gateway calls, by the name /readyz reports them under. Only these: readiness
 * asks for what the gateway needs to serve, and it serves nothing from notification-service.
 */
export type PeerAddresses = Readonly<Record<'auth' | 'user' | 'ledger' | 'payment', string>>;

export function peerAddresses(config: Config): PeerAddresses {
  return {
    auth: config.AUTH_GRPC_ADDR,
    user: config.USER_GRPC_ADDR,
    ledger: config.LEDGER_GRPC_ADDR,
    payment: config.PAYMENT_GRPC_ADDR,
  };
}

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
