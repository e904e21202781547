import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';

export const SERVICE_NAME = 'payment-service';

export const schema = {
  ...commonSchema,
  PAYMENT_DATABASE_URL: databaseUrl('PostgreSQL database of payment-service'),
  PAYMENT_GRPC_PORT: v.port('gRPC port of payment-service', 50054),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
