import type { Request, RequestHandler, Response } from 'express';
import { DomainError, isOperator } from '@bank/kernel';
import type { TokenVerifier, VerifiedUser } from '@bank/platform';
import { noRoute } from './errors';
import { ProblemError } from './problem';

/** The caller of a request: the user its token names, and the token, which travels on to the services that verify it again. */
export interface AuthenticatedCaller extends VerifiedUser {
  readonly accessToken: string;
}

function unauthenticated(detail: string): ProblemError {
  return new ProblemError('UNAUTHENTICATED', detail);
}

const CALLER = Symbol('caller');

/** Requires `Authorization: Bearer <token>`; the verified caller is then available to handlers. */
export function authenticate(verifier: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are Bearer.
    const match = /^Bearer +([A-Za-z0-9_\-.]+)$/i.exec(header);
    if (!match) {
      next(unauthenticated('a Bearer access token is required'));
      return;
    }
    const accessToken = match[1] as string;
    verifier.verify(accessToken).then(
      (user) => {
        (res.locals as Record<symbol, AuthenticatedCaller>)[CALLER] = { ...user, accessToken };
        next();
      },
      (e: unknown) => next(e instanceof DomainError ? unauthenticated(e.message) : e),
    );
  };
}

export function callerOf(res: Response): AuthenticatedCaller {
  const caller = (res.locals as Record<symbol, AuthenticatedCaller | undefined>)[CALLER];
  if (!caller) throw unauthenticated('a Bearer access token is required');
  return caller;
}

/** The caller of an operators-only route; to everybody else the route does not exist (404, never 403). */
export function operatorOf(req: Request, res: Response): AuthenticatedCaller {
  const who = callerOf(res);
  if (!isOperator(who)) throw noRoute(req);
  return who;
}
