import { Redis } from 'ioredis';
import type { Logger } from '@bank/platform';

/**
 * A rate-limit check waits at most this long for Redis. Redis answers in well under a millisecond
 * when healthy; a slow one must not hold every request hostage.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 500;
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/**
 * How long `disconnect()` waits for the socket to close before destroying it. Nothing is in flight
 * by then (shutdown uses QUIT, which closes at once), so a dead socket is not worth waiting for.
 */
export const REDIS_DISCONNECT_TIMEOUT_MS = 500;
/** Reconnect backoff: grows per attempt up to this ceiling, and never stops trying. */
export const REDIS_RECONNECT_STEP_MS = 100;
export const REDIS_MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Commands fail at once while Redis is disconnected instead of queueing: a request then falls back
 * to the local rate-limit counters (http/rate-limit.ts) rather than hanging until the connection
 * returns. The connection is opened explicitly by `connect()`.
 */
export function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    disconnectTimeout: REDIS_DISCONNECT_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * REDIS_RECONNECT_STEP_MS, REDIS_MAX_RECONNECT_DELAY_MS),
    connectionName: 'api-gateway',
  });
  // Without a listener ioredis prints connection errors itself. The outage is logged once by the
  // rate limiters' DependencyHealth; each failed reconnect goes to the debug log only.
  redis.on('error', (err: Error) => logger.debug({ err }, 'redis connection error'));
  return redis;
}
