import { KNOWN_ENV_VARS, commonSchema, tokenVerifierSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';
import { DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS, defaultGrpcAddress } from '@bank/contracts';

export const SERVICE_NAME = 'payment-service';

export const schema = {
  ...commonSchema,
  ...tokenVerifierSchema,
  PAYMENT_DATABASE_URL: databaseUrl('PostgreSQL database of payment-service'),
  PAYMENT_GRPC_PORT: v.port('gRPC port of payment-service', DEFAULT_GRPC_PORTS['payment-service']),
  PAYMENT_METRICS_PORT: v.port('HTTP port of payment-service\'s Prometheus metrics (GET /metrics); 0 picks a free one', DEFAULT_METRICS_PORTS['payment-service']),
  LEDGER_GRPC_ADDR: v.string('transaction-service address (host:port): the saga steps', { default: defaultGrpcAddress('transaction-service') }),
  USER_GRPC_ADDR: v.string('user-service address (host:port): accounts not yet known from events', { default: defaultGrpcAddress('user-service') }),
  NOTIFICATION_GRPC_ADDR: v.string("notification-service address (host:port): a payment's emails, for its timeline", { default: defaultGrpcAddress('notification-service') }),
  PAYMENT_HOLD_TIMEOUT_S: v.int("lifetime of a payment's hold in the ledger, seconds: the last line of defence", { default: 600, min: 30, max: 7 * 24 * 3600 }),
  PAYMENT_DAILY_LIMIT: v.int("a user's outgoing payments per currency and UTC day, in minor units", { default: 100_000_000, min: 1, max: Number.MAX_SAFE_INTEGER }),
  PAYMENT_FAILPOINTS: v.string('crash tests only: saga step edges (before:hold, after:capture, ...) at which the process kills itself; empty in use', { default: '' }),
  PAYMENT_SWEEP_MS: v.int('how often stalled sagas and deposits are taken up again', { default: 1_000, min: 50, max: 60_000 }),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
