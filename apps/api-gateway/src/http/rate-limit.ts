import type { RequestHandler } from 'express';
import { MemoryStore, rateLimit, type ClientRateLimitInfo, type Options, type Store } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { DependencyHealth, Logger } from '@bank/platform';
import { problem, sendProblem } from './problem';

const MS_PER_SECOND = 1000;

export interface RateLimitRule {
  /** Requests one client may make per window. */
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * Every /v1 request, per client address: 100 a second, room for a busy client (an app polling its
 * payments, a test harness) while a flood from one address is still cut off.
 */
export const GENERAL_RATE_LIMIT: RateLimitRule = { limit: 6_000, windowMs: 60_000 };
/**
 * Login and signup together, per client address: a password-guessing budget, not a usage budget
 * (one a second; bcrypt makes each guess cost the guesser too).
 */
export const AUTH_RATE_LIMIT: RateLimitRule = { limit: 60, windowMs: 60_000 };
/**
 * Clients on IPv6 usually get a whole /56 or /64; counting each address separately would give one
 * client billions of budgets, so addresses share a counter per /56 (express-rate-limit's default).
 */
export const IPV6_SUBNET_PREFIX_BITS = 56;
/** Redis keys of the counters start with this (the default REDIS_QUEUE_PREFIX, then the gateway's part). */
export const RATE_LIMIT_KEY_PREFIX = 'bank:gateway:rl:';

/**
 * After a failed call to the shared store, requests are counted locally for this long before
 * Redis is tried again: a Redis that hangs (rather than refuses) would otherwise cost every
 * request the full command timeout.
 */
export const SHARED_STORE_RETRY_MS = 1_000;
const COMPONENT = 'rate-limit';

export interface RateLimiterOptions {
  readonly name: string;
  readonly rule: RateLimitRule;
  readonly redis: Redis;
  /** Shared by the process's limiters: a Redis outage is logged once, not once per limiter or request. */
  readonly redisHealth: DependencyHealth;
  /** Prefix of this limiter's keys; each limiter needs its own, or they would share counters. */
  readonly prefix: string;
  readonly logger: Logger;
}

/**
 * The counters live in Redis, so every gateway replica counts against the same budget. While Redis
 * is away they live in this process (express-rate-limit's MemoryStore, the same rule): the bank
 * keeps serving customers, whose writes need no Redis (the outbox holds their events), and every
 * client is still limited, at worst to the limit per replica instead of across replicas. The
 * first request after Redis is back counts in Redis again; the local counts are then forgotten
 * with their window.
 */
export class FailoverStore implements Store {
  readonly localKeys = false;
  private readonly local = new MemoryStore();
  private sharedRetryAtMs = 0;

  constructor(
    private readonly shared: RedisStore,
    private readonly redis: Redis,
    private readonly health: DependencyHealth,
  ) {}

  get prefix(): string {
    return this.shared.prefix;
  }

  init(options: Options): void {
    this.shared.init(options);
    this.local.init(options);
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    // ioredis refuses commands at once while disconnected (no offline queue); status says so without a round trip.
    if (this.redis.status === 'ready' && Date.now() >= this.sharedRetryAtMs) {
      try {
        const info = await this.shared.increment(key);
        this.health.recovered(COMPONENT);
        return info;
      } catch (e) {
        this.health.failed(e, COMPONENT);
        this.sharedRetryAtMs = Date.now() + SHARED_STORE_RETRY_MS;
      }
    } else if (this.redis.status !== 'ready') {
      this.health.failed(new Error(`redis connection ${this.redis.status}`), COMPONENT);
    }
    return this.local.increment(key);
  }

  async decrement(key: string): Promise<void> {
    this.local.decrement(key);
    if (this.health.up) await this.shared.decrement(key).catch(() => undefined);
  }

  async resetKey(key: string): Promise<void> {
    this.local.resetKey(key);
    await this.shared.resetKey(key).catch(() => undefined);
  }

  shutdown(): void {
    this.local.shutdown();
  }
}

/** A limiter per rule (see FailoverStore for where it counts). */
export function createRateLimiter(opts: RateLimiterOptions): RequestHandler {
  const shared = new RedisStore({
    sendCommand: (command: string, ...args: string[]) => opts.redis.call(command, ...args) as Promise<RedisReply>,
    prefix: opts.prefix,
    resetExpiryOnChange: false,
  });
  // The store loads its scripts from its constructor and keeps the promises; one that fails
  // while Redis is unreachable would be an unhandled rejection (fatal under runService) although
  // the store reloads the script on the next request anyway.
  shared.incrementScriptSha.catch(() => undefined);
  shared.getScriptSha.catch(() => undefined);
  const store = new FailoverStore(shared, opts.redis, opts.redisHealth);
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
      // Only a failure of the local store gets here (the shared one falls back): a bug, not an outage.
      opts.logger.error({ err, limiter: opts.name }, 'rate limiting failed; refusing the request');
      sendProblem(res, problem('UNAVAILABLE', 'The request could not be admitted right now; retry later.'));
    });
  };
}
