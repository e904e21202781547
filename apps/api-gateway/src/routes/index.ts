import express, { type Router } from 'express';
import type { Logger } from '@bank/platform';

/** What the business routes get to work with; the gRPC clients join it with the first route. */
export interface RouteDeps {
  readonly logger: Logger;
}

/**
 * The /v1 business API (API.md: auth, me, accounts, payments, admin), mounted by app.ts at /v1
 * behind the body parser and the rate limiters. Each area adds its own module in this folder and
 * one line here. Paths are relative to /v1 (`router.post('/auth/login', ...)`), so the metrics
 * route label comes out as `/v1/auth/login`. Handlers throw ProblemError or let a RemoteCallError
 * through; app.ts's error handler turns both into problem documents. GET /.well-known/jwks.json
 * is not under /v1: it gets its own export here, mounted at the root by app.ts.
 */
export function createV1Router(_deps: RouteDeps): Router {
  const router = express.Router({ caseSensitive: false, mergeParams: false, strict: false });
  return router;
}
