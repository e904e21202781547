import type { Router } from 'express';
import type { authV1 } from '@bank/contracts';
import { readBody } from '../http/input';
import { requestIdOf } from '../http/request-id';
import type { Peers } from '../peers';

const tokens = (p: authV1.TokenPair) => ({ accessToken: p.accessToken, refreshToken: p.refreshToken, tokenType: 'Bearer', expiresIn: p.expiresInSeconds });

/** POST /v1/auth/signup, /login, /refresh, /logout: passed to auth-service; no token needed. */
export function authRoutes(router: Router, peers: Peers): void {
  router.post('/auth/signup', async (req, res) => {
    const body = readBody(req, { email: 'string', password: 'string', fullName: 'string' });
    const r = await peers.call<authV1.SignUpResponse>((md, o, cb) => peers.auth.signUp(body, md, o, cb), undefined, requestIdOf(res));
    res.status(201).json({ userId: r.userId, email: r.email });
  });
  router.post('/auth/login', async (req, res) => {
    const body = readBody(req, { email: 'string', password: 'string' });
    const pair = await peers.call<authV1.TokenPair>((md, o, cb) => peers.auth.login({ ...body, clientIp: req.ip ?? '' }, md, o, cb), undefined, requestIdOf(res));
    res.status(200).json(tokens(pair));
  });
  router.post('/auth/refresh', async (req, res) => {
    const body = readBody(req, { refreshToken: 'string' });
    const pair = await peers.call<authV1.TokenPair>((md, o, cb) => peers.auth.refresh(body, md, o, cb), undefined, requestIdOf(res));
    res.status(200).json(tokens(pair));
  });
  router.post('/auth/logout', async (req, res) => {
    const body = readBody(req, { refreshToken: 'string' });
    await peers.call((md, o, cb) => peers.auth.logout(body, md, o, cb), undefined, requestIdOf(res));
    res.status(204).end();
  });
}
