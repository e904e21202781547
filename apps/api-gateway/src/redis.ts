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
 * Commands fail at once while Redis is disconnected instead of queueing: a request then gets a
 * quick 503 (and /readyz reports Redis down) rather than hanging until the connection returns.
 * The connection is opened explicitly by `connect()` so that a bad REDIS_URL fails the start.
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
  // Without a listener ioredis prints connection errors itself; route them to the log instead.
  redis.on('error', (err: Error) => logger.warn({ err }, 'redis connection error'));
  return redis;
}
