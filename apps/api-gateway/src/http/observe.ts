import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '@bank/platform';
import { requestIdOf } from './request-id';

/**
 * The label of a request that matched no route (404s, and rejections before routing such as 413
 * or 429). Raw paths are never used as labels: every distinct URL would become a new time
 * series, and a scanner would blow up the metrics store.
 */
export const UNMATCHED_ROUTE = '(unmatched)';

/** Seconds; up to 30 s because `Prefer: wait=30` keeps a payment request open that long. */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const NS_PER_S = 1e9;
/** The message of every access-log line, for finding them. */
export const ACCESS_LOG_MESSAGE = 'request';

/** Marks requests served by a mounted handler (static files) with a fixed route label. */
export function routeLabel(label: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.routeLabel = label;
    next();
  };
}

/**
 * Remembers the route template at the moment the router picks a route. Reading req.route and
 * req.baseUrl once the response is done is not enough: when a handler fails, express leaves the
 * router (resetting baseUrl) before the error handler answers, so `/v1/accounts/:id` would come out
 * as `/accounts/:id`. The router assigns req.route when it dispatches, so a setter sees it then.
 */
function trackRouteTemplate(req: Request, res: Response): void {
  let route: unknown = req.route;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      if (typeof path === 'string') res.locals.routeTemplate = `${req.baseUrl}${path}`;
    },
  });
}

/** The route template (`/v1/accounts/:id`), never the concrete path. */
export function routeTemplateOf(res: Response): string {
  const fixed: unknown = res.locals.routeLabel;
  if (typeof fixed === 'string') return fixed;
  const template: unknown = res.locals.routeTemplate;
  return typeof template === 'string' ? template : UNMATCHED_ROUTE;
}

export interface HttpMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route' | 'status'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to finishing its response, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    }),
  };
}

/** One metrics sample per request, taken when the response is done (or the client went away). */
export function measureRequests(metrics: HttpMetrics): RequestHandler {
  return (req, res, next) => {
    const startedNs = process.hrtime.bigint();
    trackRouteTemplate(req, res);
    res.once('close', () => {
      const labels = { method: req.method, route: routeTemplateOf(res), status: String(res.statusCode) };
      metrics.requests.inc(labels);
      metrics.duration.observe(labels, Number(process.hrtime.bigint() - startedNs) / NS_PER_S);
    });
    next();
  };
}

/** The access log line of one request: what happened, never what was said. */
function accessLine(req: IncomingMessage, res: ServerResponse, responseTimeMs: number) {
  const r = req as Request;
  return {
    method: r.method,
    route: routeTemplateOf(res as Response),
    // The concrete path without the query string, which can carry cursors.
    path: r.originalUrl.split('?')[0],
    status: res.statusCode,
    durationMs: responseTimeMs,
    // The client's key for a retried request (validated printable ASCII, at most 255 characters).
    ...(typeof (res as Response).locals.idempotencyKey === 'string' ? { idempotencyKey: (res as Response).locals.idempotencyKey as string } : {}),
    // The client hung up before the response was complete.
    ...(res.writableFinished ? {} : { aborted: true }),
  };
}

/**
 * One access-log line per request, written when the response is done (or the client went
 * away). The line is built field by field: no headers, bodies or query strings, so tokens and
 * personal data stay out of the logs whatever a client sends; the request id binds it to the
 * rest. Written directly rather than through pino-http, which made a child logger and serialised
 * each request for a line that uses none of it: a tenth of the gateway's CPU per request
 * (npm run bench, profiled).
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const startedMs = performance.now();
    res.once('close', () => {
      const line = { requestId: requestIdOf(res), ...accessLine(req, res, Math.round(performance.now() - startedMs)) };
      if (res.statusCode >= 500 || !res.writableFinished) logger.warn(line, ACCESS_LOG_MESSAGE);
      else logger.info(line, ACCESS_LOG_MESSAGE);
    });
    next();
  };
}
