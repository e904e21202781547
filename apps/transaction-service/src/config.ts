import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';

export const SERVICE_NAME = 'transaction-service';

export const schema = {
  ...commonSchema,
  LEDGER_DATABASE_URL: databaseUrl('PostgreSQL database of transaction-service'),
  LEDGER_GRPC_PORT: v.port('gRPC port of transaction-service', 50053),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
