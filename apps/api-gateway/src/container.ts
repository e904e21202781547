import { Container } from 'inversify';
import type { Redis } from 'ioredis';
import { createLogger, type Logger, type Running } from '@bank/platform';
import { createApp } from './app';
import { SERVICE_NAME, peerAddresses, type Config } from './config';
import { startHttpServer } from './http/server';
import { createRedis } from './redis';

export const TYPES = {
  Config: Symbol.for('Config'),
  Logger: Symbol.for('Logger'),
  Redis: Symbol.for('Redis'),
  Start: Symbol.for('Start'),
};

/** The composition root of the api-gateway: the only place that wires its parts together. */
export function buildContainer(config: Config): Container {
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(createLogger(SERVICE_NAME, config.LOG_LEVEL));
  container
    .bind<Redis>(TYPES.Redis)
    .toResolvedValue((logger: Logger) => createRedis(config.REDIS_URL, logger), [TYPES.Logger])
    .inSingletonScope();
  container.bind<() => Promise<Running>>(TYPES.Start).toResolvedValue(
    (logger: Logger, redis: Redis) => async () => {
      // Redis first: without it no /v1 request can be admitted, so failing here beats serving 503s.
      await redis.connect();
      // The bank's Redis prefix keeps these counters apart from another bank sharing the server.
      const rateLimitPrefix = `${config.REDIS_QUEUE_PREFIX}:gateway:rl:`;
      const app = createApp({ logger, redis, peers: peerAddresses(config), options: { rateLimitPrefix, trustProxy: config.GATEWAY_TRUSTED_PROXY_HOPS === 0 ? false : config.GATEWAY_TRUSTED_PROXY_HOPS } });
      const server = await startHttpServer(app, { host: config.BIND_HOST, port: config.GATEWAY_PORT, logger });
      logger.info({ url: server.url, docs: `${server.url}/docs` }, `${SERVICE_NAME} listening on ${server.url}`);
      return {
        async stop() {
          await server.stop();
          await redis.quit();
        },
      };
    },
    [TYPES.Logger, TYPES.Redis],
  );
  return container;
}
