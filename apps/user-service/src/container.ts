import { Container } from 'inversify';
import { createLogger, platformMigrations, startServiceRuntime, type Logger, type StartedService } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';

export const TYPES = {
  Config: Symbol.for('Config'),
  Logger: Symbol.for('Logger'),
  Start: Symbol.for('Start'),
};

/** The composition root of user-service: the only place that wires its parts together. */
export function buildContainer(config: Config): Container {
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(createLogger(SERVICE_NAME, config.LOG_LEVEL));
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (logger: Logger) => () =>
      startServiceRuntime({
        name: SERVICE_NAME,
        logger,
        databaseUrl: config.USER_DATABASE_URL,
        migrations: platformMigrations,
        grpc: { host: config.BIND_HOST, port: config.USER_GRPC_PORT },
        queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
        // Its business RPCs and event handlers arrive with their own issue; until then it serves health only.
        services: () => [],
      }),
    [TYPES.Logger],
  );
  return container;
}
