import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';
import { DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS } from '@bank/contracts';

export const SERVICE_NAME = 'transaction-service';

export const schema = {
  ...commonSchema,
  LEDGER_DATABASE_URL: databaseUrl('PostgreSQL database of the ledger'),
  LEDGER_GRPC_PORT: v.port('gRPC port of transaction-service', DEFAULT_GRPC_PORTS['transaction-service']),
  LEDGER_METRICS_PORT: v.port('HTTP port of transaction-service\'s Prometheus metrics (GET /metrics); 0 picks a free one', DEFAULT_METRICS_PORTS['transaction-service']),
  LEDGER_BATCH_WINDOW_MS: v.int('how long a batch waits for more transfers (0: it leaves at once)', { default: 1, min: 0, max: 50 }),
  LEDGER_BATCH_MAX_TRANSFERS: v.int('most transfers in one database transaction', { default: 8_000, min: 1, max: 8_000 }),
  LEDGER_BATCH_MAX_IN_FLIGHT: v.int('batches in flight at once: one written while the next is decided', { default: 2, min: 1, max: 8 }),
  LEDGER_BATCH_MAX_QUEUED_TRANSFERS: v.int('transfers that may wait for a batch; more are refused (LEDGER_OVERLOADED) rather than queued', { default: 64_000, min: 8_000, max: 1_000_000 }),
  LEDGER_PENDING_TIMEOUT_S: v.int('default lifetime of a hold, seconds', { default: 900, min: 1, max: 30 * 24 * 3600 }),
  LEDGER_EXPIRY_SWEEP_MS: v.int('how often expired holds are voided', { default: 1_000, min: 50, max: 60_000 }),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
