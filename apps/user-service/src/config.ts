import { KNOWN_ENV_VARS, commonSchema, tokenVerifierSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';
import { DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS, defaultGrpcAddress } from '@bank/contracts';

export const SERVICE_NAME = 'user-service';

export const schema = {
  ...commonSchema,
  ...tokenVerifierSchema,
  USER_DATABASE_URL: databaseUrl('PostgreSQL database of user-service'),
  USER_GRPC_PORT: v.port('gRPC port of user-service', DEFAULT_GRPC_PORTS['user-service']),
  USER_METRICS_PORT: v.port('HTTP port of user-service\'s Prometheus metrics (GET /metrics); 0 picks a free one', DEFAULT_METRICS_PORTS['user-service']),
  LEDGER_GRPC_ADDR: v.string('transaction-service address (host:port), asked for balances before closing', { default: defaultGrpcAddress('transaction-service') }),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
