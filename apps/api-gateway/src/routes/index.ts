import express, { type RequestHandler, type Router } from 'express';
import type { authV1 } from '@bank/contracts';
import type { Logger } from '@bank/platform';
import type { TokenVerifier } from '../http/auth-token';
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

/** The JWKS is public and changes rarely: clients may cache it briefly. */
export const JWKS_CACHE_SECONDS = 300;

/**
 * The /v1 business API (API.md), mounted by app.ts at /v1 behind the body parser and the rate
 * limiters. Each area adds its own module in this folder and one line here. Paths are relative
 * to /v1, so the metrics route label comes out as `/v1/auth/login`. Handlers throw ProblemError
 * or let a RemoteCallError through; app.ts's error handler turns both into problem documents.
 */
export function createV1Router(deps: RouteDeps): Router {
  const router = express.Router({ caseSensitive: false, mergeParams: false, strict: false });
  authRoutes(router, deps.peers);
  accountRoutes(router, deps.peers, deps.verifier);
  paymentRoutes(router, deps.peers, deps.verifier);
  return router;
}

/** GET /.well-known/jwks.json: auth-service's public signing keys, for anyone verifying tokens. */
export function jwksHandler(peers: Peers): RequestHandler {
  return async (_req, res) => {
    const r = await peers.call<authV1.GetJwksResponse>((md, o, cb) => peers.auth.getJwks({}, md, o, cb));
    res.setHeader('Cache-Control', `public, max-age=${JWKS_CACHE_SECONDS}`);
    res.json({ keys: r.keys.map((k) => ({ kty: k.kty, kid: k.kid, alg: k.alg, use: k.use, n: k.n, e: k.e })) });
  };
}
