import { Container } from 'inversify';
import type { Redis } from 'ioredis';
import { authTokenVerifier, createLogger, loadIdentity, type Logger, type Running, TYPES } from '@bank/platform';
import { createApp } from './app';
import { Peers } from './peers';
import { SERVICE_NAME, peerAddresses, type Config } from './config';
import { startHttpServer } from './http/server';
import { createRedis } from './redis';

/** The rate limits are configured per minute. */
const RATE_LIMIT_WINDOW_MS = 60_000;

/** The platform's container keys, and the gateway's shared Redis connection. */
export const GATEWAY_TYPES = { ...TYPES, Redis: Symbol.for('Redis') } as const;

/** The composition root of the api-gateway: the only place that wires its parts together. */
export function buildContainer(config: Config): Container {
  const identity = loadIdentity(config.BANK_TLS_DIR, SERVICE_NAME);
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(createLogger(SERVICE_NAME, config.LOG_LEVEL));
  container
    .bind<Redis>(GATEWAY_TYPES.Redis)
    .toResolvedValue((logger: Logger) => createRedis(config.REDIS_URL, logger), [TYPES.Logger])
    .inSingletonScope();
  container.bind<() => Promise<Running>>(TYPES.Start).toResolvedValue(
    (logger: Logger, redis: Redis) => async () => {
      // The gateway serves without Redis (rate limits then count locally), so an unreachable Redis
      // does not fail the start; ioredis keeps reconnecting with its retry strategy.
      await redis.connect().catch((err: unknown) => logger.warn({ err }, 'redis unreachable at start; rate limits count locally until it answers'));
      // The bank's Redis prefix keeps these counters apart from another bank sharing the server.
      const rateLimitPrefix = `${config.REDIS_QUEUE_PREFIX}:gateway:rl:`;
      const peers = peerAddresses(config);
      const clients = new Peers({ auth: peers.auth, user: peers.user, ledger: peers.ledger, payment: peers.payment }, identity);
      const tokens = authTokenVerifier(config, identity);
      const verifier = tokens.verifier;
      const options = {
        rateLimitPrefix,
        generalRateLimit: { limit: config.GATEWAY_RATE_LIMIT_PER_MIN, windowMs: RATE_LIMIT_WINDOW_MS },
        authRateLimit: { limit: config.GATEWAY_AUTH_RATE_LIMIT_PER_MIN, windowMs: RATE_LIMIT_WINDOW_MS },
        trustProxy: config.GATEWAY_TRUSTED_PROXY_HOPS === 0 ? (false as const) : config.GATEWAY_TRUSTED_PROXY_HOPS,
      };
      const { app, ops } = createApp({ logger, redis, peers, identity, api: { clients, verifier }, options });
      // The operations port first: if it cannot bind, the start fails before any client is let in.
      const opsServer = await startHttpServer(ops, { host: config.BIND_HOST, port: config.GATEWAY_OPS_PORT, logger });
      const server = await startHttpServer(app, { host: config.BIND_HOST, port: config.GATEWAY_PORT, logger }).catch(async (e: unknown) => {
        await opsServer.stop();
        throw e;
      });
      logger.info({ url: server.url, docs: `${server.url}/docs`, ops: opsServer.url }, `${SERVICE_NAME} listening on ${server.url} (operations on ${opsServer.url})`);
      return {
        async stop() {
          await server.stop();
          await opsServer.stop();
          clients.close();
          tokens.close();
          await redis.quit();
        },
      };
    },
    [TYPES.Logger, GATEWAY_TYPES.Redis],
  );
  return container;
}
