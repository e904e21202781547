import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';

export const SERVICE_NAME = 'notification-service';

export const schema = {
  ...commonSchema,
  NOTIFICATION_DATABASE_URL: databaseUrl('PostgreSQL database of notification-service'),
  NOTIFICATION_GRPC_PORT: v.port('gRPC port of notification-service', 50055),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
