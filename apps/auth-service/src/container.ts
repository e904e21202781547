import type { Container } from 'inversify';
import type { Clock } from '@bank/kernel';
import { ServiceRuntime, TYPES, createLogger, serviceContainer, type Logger, type StartedService, loadIdentity } from '@bank/platform';
import { Auth } from './auth';
import { SERVICE_NAME, type Config } from './config';
import { authGrpcService } from './grpc';
import { AUTH_ENTITIES } from './entities';
import { authMigrations } from './migrations';
import { PasswordHasher } from './passwords';
import { SigningKeys } from './signing';

const SIGNING_KEYS = Symbol.for('SigningKeys');
const AUTH = Symbol.for('Auth');

/** The composition root of auth-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const identity = loadIdentity(config.BANK_TLS_DIR, SERVICE_NAME);
  const container = serviceContainer(config, {
    metricsPort: config.AUTH_METRICS_PORT,
    metricsHost: config.BIND_HOST,
    name: SERVICE_NAME,
    identity,
    logger,
    databaseUrl: config.AUTH_DATABASE_URL,
    migrations: authMigrations,
    entities: AUTH_ENTITIES,
    queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
  });
  container
    .bind<SigningKeys>(SIGNING_KEYS)
    .toResolvedValue((runtime: ServiceRuntime, clock: Clock) => new SigningKeys(runtime.db, clock, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, accessTtlSeconds: config.JWT_ACCESS_TTL_S }), [TYPES.Runtime, TYPES.Clock])
    .inSingletonScope();
  container
    .bind<Auth>(AUTH)
    .toResolvedValue((runtime: ServiceRuntime, keys: SigningKeys, clock: Clock) => new Auth(runtime.db, new PasswordHasher(config.AUTH_BCRYPT_COST), keys, clock, config.AUTH_REFRESH_TTL_S), [TYPES.Runtime, SIGNING_KEYS, TYPES.Clock])
    .inSingletonScope();
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (runtime: ServiceRuntime, keys: SigningKeys, auth: Auth) => () =>
      runtime.start(async () => {
        // Keys load before the server takes calls, so no login can arrive before there is a key.
        await keys.load(config.JWT_PRIVATE_KEY === '' ? undefined : { privatePem: config.JWT_PRIVATE_KEY, kid: config.JWT_KEY_ID });
        return {
          grpc: { host: config.BIND_HOST, port: config.AUTH_GRPC_PORT },
          services: [authGrpcService(auth, keys, { logger, accessTokenTtlSeconds: config.JWT_ACCESS_TTL_S })],
        };
      }),
    [TYPES.Runtime, SIGNING_KEYS, AUTH],
  );
  return container;
}
