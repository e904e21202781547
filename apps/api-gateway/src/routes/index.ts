import express, { type Router } from 'express';
import type { Logger } from '@bank/platform';
import { JWKS_MAX_AGE_MS, type TokenVerifier } from '@bank/platform';
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

/** Clients may keep the JWKS for what is left of the gateway's own keeping time, never longer. */
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
    const { keys, ageMs } = await deps.verifier.publishedKeys();
    // Age (RFC 9111) says how old the set already is; max-age only what is left, so a verifier
    // downstream sees a rotated key no later than the gateway does.
    const ageSeconds = Math.floor(ageMs / 1000);
    res.setHeader('Age', String(ageSeconds));
    res.setHeader('Cache-Control', `public, max-age=${Math.max(0, JWKS_CACHE_SECONDS - ageSeconds)}`);
    res.json({ keys });
  });
  return router;
}
