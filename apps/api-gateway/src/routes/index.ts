import express, { type Router } from 'express';
import type { Logger } from '@bank/platform';
import { JWKS_MAX_AGE_MS, type TokenVerifier } from '../http/auth-token';
import { serve } from '../http/input';
import { OPERATIONS } from '../http/operations';
import type { Peers } from '../peers';
import { accountRoutes } from './accounts';
import { authRoutes } from './auth';
import { paymentRoutes } from './payments';

/** What the business routes work with. */
export interface RouteDeps {
  readonly logger: Logger;
  readonly peers: Peers;
  readonly verifier: TokenVerifier;
}

/** Clients may keep the JWKS as long as the gateway itself does before re-reading it. */
export const JWKS_CACHE_SECONDS = JWKS_MAX_AGE_MS / 1000;

/**
 * The business API (API.md) and the JWKS, each route at its full documented path (operations.ts),
 * so that the router, the metrics' route labels and the OpenAPI document name routes the same
 * way. Each area adds its own module in this folder and one line here. Handlers throw
 * ProblemError or let a RemoteCallError through; app.ts's error handler turns both into problems.
 */
export function createApiRouter(deps: RouteDeps): Router {
  const router = express.Router({ caseSensitive: false, mergeParams: false, strict: false });
  authRoutes(router, deps.peers);
  accountRoutes(router, deps.peers, deps.verifier);
  paymentRoutes(router, deps.peers, deps.verifier);
  // The published keys come from the verifier's cache: a hit costs no call to auth-service.
  serve(router, OPERATIONS.getJwks, undefined, async (_input, res) => {
    const keys = await deps.verifier.publishedKeys();
    res.setHeader('Cache-Control', `public, max-age=${JWKS_CACHE_SECONDS}`);
    res.json({ keys });
  });
  return router;
}
