import { Container } from 'inversify';
import { systemClock } from '@bank/kernel';
import { createLogger, type Database, type Logger, type StartedService, startServiceRuntime, TYPES } from '@bank/platform';
import { Auth } from './auth';
import { SERVICE_NAME, type Config } from './config';
import { authGrpcService } from './grpc';
import { authMigrations } from './migrations';
import { PasswordHasher } from './passwords';
import { SigningKeys } from './signing';

/** The composition root of auth-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(logger);
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (logger: Logger) => async () => {
      const hasher = new PasswordHasher(config.AUTH_BCRYPT_COST);
      const keysOf = (db: Database) =>
        new SigningKeys(db, systemClock, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, accessTtlSeconds: config.JWT_ACCESS_TTL_S });
      let keys: SigningKeys | undefined;
      return startServiceRuntime({
        name: SERVICE_NAME,
        logger,
        databaseUrl: config.AUTH_DATABASE_URL,
        migrations: authMigrations,
        grpc: { host: config.BIND_HOST, port: config.AUTH_GRPC_PORT },
        queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
        // Keys load before the server takes calls, so no login can arrive before there is a key.
        prepare: async (db) => {
          keys = keysOf(db);
          await keys.load(config.JWT_PRIVATE_KEY === '' ? undefined : { privatePem: config.JWT_PRIVATE_KEY, kid: config.JWT_KEY_ID });
        },
        services: (db) => {
          const loaded = keys ?? keysOf(db);
          const auth = new Auth(db, hasher, loaded, systemClock, config.AUTH_REFRESH_TTL_S);
          return [authGrpcService(auth, loaded, { serviceToken: config.SERVICE_TOKEN, logger })];
        },
      });
    },
    [TYPES.Logger],
  );
  return container;
}
