import type { Router } from 'express';
import type { authV1 } from '@bank/contracts';
import { serve } from '../http/input';
import { OPERATIONS } from '../http/operations';
import { requestIdOf } from '../http/request-id';
import type { Peers } from '../peers';

const tokens = (p: authV1.TokenPair) => ({ accessToken: p.accessToken, refreshToken: p.refreshToken, tokenType: 'Bearer', expiresIn: p.expiresInSeconds });

/** POST /v1/auth/signup, /login, /refresh, /logout: passed to auth-service; no token needed. */
export function authRoutes(router: Router, peers: Peers): void {
  serve(router, OPERATIONS.signUp, undefined, async ({ body }, res) => {
    const r = await peers.call<authV1.SignUpResponse>((md, o, cb) => peers.auth.signUp(body, md, o, cb), undefined, requestIdOf(res));
    res.status(201).json({ userId: r.userId, email: r.email });
  });
  serve(router, OPERATIONS.logIn, undefined, async ({ body }, res, req) => {
    const pair = await peers.call<authV1.TokenPair>((md, o, cb) => peers.auth.login({ ...body, clientIp: req.ip ?? '' }, md, o, cb), undefined, requestIdOf(res));
    res.status(200).json(tokens(pair));
  });
  serve(router, OPERATIONS.refreshTokens, undefined, async ({ body }, res) => {
    const pair = await peers.call<authV1.TokenPair>((md, o, cb) => peers.auth.refresh(body, md, o, cb), undefined, requestIdOf(res));
    res.status(200).json(tokens(pair));
  });
  serve(router, OPERATIONS.logOut, undefined, async ({ body }, res) => {
    await peers.call((md, o, cb) => peers.auth.logout(body, md, o, cb), undefined, requestIdOf(res));
    res.status(204).end();
  });
}
