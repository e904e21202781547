import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Logger } from '@bank/platform';
import { problem, sendProblem } from './problem';

const MS_PER_SECOND = 1000;

export interface RateLimitRule {
  /** Requests one client may make per window. */
  readonly limit: number;
  readonly windowMs: number;
}

/** Every /v1 request, per client address. */
export const GENERAL_RATE_LIMIT: RateLimitRule = { limit: 300, windowMs: 60_000 };
/** Login and signup together, per client address: a password-guessing budget, not a usage budget. */
export const AUTH_RATE_LIMIT: RateLimitRule = { limit: 10, windowMs: 60_000 };
/**
 * Clients on IPv6 usually get a whole /56 or /64; counting each address separately would give one
 * client billions of budgets, so addresses share a counter per /56 (express-rate-limit's default).
 */
export const IPV6_SUBNET_PREFIX_BITS = 56;
/** Redis keys of the counters start with this (the default REDIS_QUEUE_PREFIX, then the gateway's part). */
export const RATE_LIMIT_KEY_PREFIX = 'bank:gateway:rl:';

export interface RateLimiterOptions {
  readonly name: string;
  readonly rule: RateLimitRule;
  readonly redis: Redis;
  /** Prefix of this limiter's keys; each limiter needs its own, or they would share counters. */
  readonly prefix: string;
  readonly logger: Logger;
}

/**
 * A limiter whose counters live in Redis, so every gateway replica counts against the same budget.
 * If Redis fails the request is refused with 503 rather than let through: the login limit is what
 * stands between a password list and the accounts, and /readyz already reports Redis down so the
 * load balancer can take this replica out.
 */
export function createRateLimiter(opts: RateLimiterOptions): RequestHandler {
  const store = new RedisStore({
    sendCommand: (command: string, ...args: string[]) => opts.redis.call(command, ...args) as Promise<RedisReply>,
    prefix: opts.prefix,
    resetExpiryOnChange: false,
  });
  // The store loads its scripts from its constructor and keeps the promises; one that fails
  // while Redis is unreachable would be an unhandled rejection (fatal under runService) although
  // the store reloads the script on the next request anyway.
  store.incrementScriptSha.catch(() => undefined);
  store.getScriptSha.catch(() => undefined);
  const limiter = rateLimit({
    windowMs: opts.rule.windowMs,
    limit: opts.rule.limit,
    standardHeaders: 'draft-6',
    legacyHeaders: false,
    store,
    passOnStoreError: false,
    skipFailedRequests: false,
    skipSuccessfulRequests: false,
    requestPropertyName: 'rateLimit',
    ipv6Subnet: IPV6_SUBNET_PREFIX_BITS,
    validate: true,
    logger: {
      error: (err: unknown, message?: string) => opts.logger.error({ err, limiter: opts.name }, message ?? 'rate limiter error'),
      warn: (err: unknown, message?: string) => opts.logger.warn({ err, limiter: opts.name }, message ?? 'rate limiter warning'),
    },
    handler: (_req, res) => {
      // express-rate-limit has already set Retry-After and the RateLimit-* headers.
      sendProblem(res, problem('RATE_LIMITED', `Too many requests; at most ${opts.rule.limit} per ${opts.rule.windowMs / MS_PER_SECOND} s. Retry after the time in Retry-After.`));
    },
  });
  return (req, res, next) => {
    limiter(req, res, (err?: unknown) => {
      if (err === undefined) {
        next();
        return;
      }
      opts.logger.error({ err, limiter: opts.name }, 'rate limit store failed; refusing the request');
      sendProblem(res, problem('UNAVAILABLE', 'The request could not be admitted right now; retry later.'));
    });
  };
}
