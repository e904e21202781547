import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';

export const SERVICE_NAME = 'auth-service';

export const schema = {
  ...commonSchema,
  AUTH_DATABASE_URL: databaseUrl('PostgreSQL database of auth-service'),
  AUTH_GRPC_PORT: v.port('gRPC port of auth-service', 50051),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
