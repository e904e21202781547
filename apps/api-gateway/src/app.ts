import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { DependencyHealth, createMetricsRegistry, type Logger, type WorkloadIdentity } from '@bank/platform';
import { bodyErrors, parseJsonBody, requireJsonBody } from './http/body';
import { docsRoutes } from './http/docs';
import { errorHandler, notFound } from './http/errors';
import { serve } from './http/input';
import { accessLog, createHttpMetrics, measureRequests } from './http/observe';
import { OPENAPI_DOCUMENT } from './http/openapi';
import { OPERATIONS } from './http/operations';
import { AUTH_RATE_LIMIT, GENERAL_RATE_LIMIT, RATE_LIMIT_KEY_PREFIX, createRateLimiter, type RateLimitRule } from './http/rate-limit';
import { createReadinessCheck, type Readiness } from './http/readiness';
import { requestId } from './http/request-id';
import { securityHeaders } from './http/security-headers';
import type { TokenVerifier } from '@bank/platform';
import type { Peers } from './peers';
import { createApiRouter } from './routes';

export const METRICS_PATH = '/metrics';
export const OPS_READINESS_PATH = '/readyz';
export const OPS_HEALTH_PATH = '/healthz';
/** The routes with the stricter limit: where passwords are tried and accounts are mass-created. */
export const AUTH_LIMITED_PATHS = [OPERATIONS.logIn.path, OPERATIONS.signUp.path] as const;

export interface AppOptions {
  /** Prefix of the rate-limit counters in Redis; tests give each suite its own. */
  readonly rateLimitPrefix?: string;
  readonly generalRateLimit?: RateLimitRule;
  readonly authRateLimit?: RateLimitRule;
  /** How long a /readyz result is reused; see READINESS_CACHE_MS. */
  readonly readinessCacheMs?: number;
  readonly readinessTimeoutMs?: number;
  /**
   * Express's `trust proxy`: which hops may set X-Forwarded-For. Rate limits key on the client
   * address, so behind a load balancer this must name it (a hop count or its addresses), and it
   * must never be `true`, which would let any client choose its own address.
   */
  readonly trustProxy?: number | string | false;
}

export interface AppDeps {
  readonly logger: Logger;
  readonly redis: Redis;
  /** gRPC peers by name (host:port), checked by /readyz. */
  readonly peers: Readonly<Record<string, string>>;
  /** The gateway's own identity, which its readiness probes present. */
  readonly identity: WorkloadIdentity;
  /** The gRPC clients and the token verifier of the business routes; without them only operability is served. */
  readonly api?: { readonly clients: Peers; readonly verifier: TokenVerifier };
  readonly options?: AppOptions;
}

/** The two HTTP faces of one gateway: the public API, and what only the operators' network sees. */
export interface GatewayApps {
  readonly app: Express;
  /** GATEWAY_OPS_PORT: Prometheus metrics and the detailed readiness, never exposed publicly. */
  readonly ops: Express;
}

/**
 * The gateway's HTTP applications. Order matters: the request id comes first so that every later
 * answer (even a 413 or a crash) carries it; the access log and metrics wrap everything after it;
 * the body is parsed before the limiters so that a later limiter can key on it; operability
 * endpoints stay outside /v1 so that probes never spend a client's rate limit.
 */
export function createApp(deps: AppDeps): GatewayApps {
  const { logger, redis, options = {} } = deps;
  const registry = createMetricsRegistry('api-gateway');
  const metrics = createHttpMetrics(registry);
  const rateLimitPrefix = options.rateLimitPrefix ?? RATE_LIMIT_KEY_PREFIX;
  const redisHealth = new DependencyHealth('redis', logger);
  const generalLimiter = createRateLimiter({ name: 'general', rule: options.generalRateLimit ?? GENERAL_RATE_LIMIT, redis, redisHealth, prefix: `${rateLimitPrefix}general:`, logger });
  const authLimiter = createRateLimiter({ name: 'auth', rule: options.authRateLimit ?? AUTH_RATE_LIMIT, redis, redisHealth, prefix: `${rateLimitPrefix}auth:`, logger });
  const readiness = createReadinessCheck({
    peers: deps.peers,
    identity: deps.identity,
    redis,
    // Every limiter's store reports to this health: Redis is up for one exactly when for all.
    rateLimitsShared: () => redisHealth.up,
    timeoutMs: options.readinessTimeoutMs,
    cacheMs: options.readinessCacheMs,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  // Replies are per user and money-bearing; a weak ETag would only invite caching of them.
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestId());
  app.use(securityHeaders());
  app.use(accessLog(logger));
  app.use(measureRequests(metrics));
  app.use(requireJsonBody());
  app.use(parseJsonBody());
  app.use(bodyErrors());

  app.use('/v1', generalLimiter);
  // Registered as routes, not by comparing req.path: the limiter then matches exactly what the
  // business route will (case, trailing slash), so `/V1/Auth/Login/` cannot slip past it.
  for (const path of AUTH_LIMITED_PATHS) app.post(path, authLimiter);
  app.use('/v1', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  serve(app, OPERATIONS.getHealth, undefined, async (_input, res) => {
    res.json({ status: 'ok' });
  });
  // Whether to send traffic here, and nothing more: which dependency is down is for operators.
  serve(app, OPERATIONS.getReadiness, undefined, async (_input, res) => {
    const { ready } = await readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready' });
  });
  const openApiJson = JSON.stringify(OPENAPI_DOCUMENT);
  serve(app, OPERATIONS.getOpenApi, undefined, async (_input, res) => {
    res.type('application/json').send(openApiJson);
  });
  docsRoutes(app, OPERATIONS.getDocs.path, OPERATIONS.getOpenApi.path);
  if (deps.api) app.use(createApiRouter({ logger, peers: deps.api.clients, verifier: deps.api.verifier }));

  app.use(notFound());
  app.use(errorHandler(logger));
  return { app, ops: createOpsApp(registry, readiness, logger) };
}

/** The operations port: metrics and the readiness with each dependency named. */
function createOpsApp(registry: Registry, readiness: () => Promise<Readiness>, logger: Logger): Express {
  const ops = express();
  ops.disable('x-powered-by');
  ops.set('etag', false);
  ops.get(OPS_HEALTH_PATH, (_req, res) => {
    res.json({ status: 'ok' });
  });
  ops.get(OPS_READINESS_PATH, async (_req, res) => {
    const { ready, checks, rateLimits } = await readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks, rateLimits });
  });
  ops.get(METRICS_PATH, async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  ops.use(notFound());
  ops.use(errorHandler(logger));
  return ops;
}
