import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import jwt from 'jsonwebtoken';
import { isOperator } from '@bank/kernel';
import { noRoute } from './errors';
import { ProblemError } from './problem';

/** The only algorithm accepted: a token naming another (none, HS256 with the public key, ...) is refused. */
export const ACCEPTED_ALGORITHMS: jwt.Algorithm[] = ['RS256'];
/** An unknown kid triggers a JWKS refresh at most this often, so bad tokens cannot hammer auth. */
export const JWKS_REFRESH_MIN_INTERVAL_MS = 10_000;
/** Known keys are re-read this often, to drop retired ones. */
export const JWKS_MAX_AGE_MS = 5 * 60_000;
/** How long known keys keep verifying while they cannot be re-read (auth-service down). */
export const JWKS_MAX_STALE_MS = 60 * 60_000;
const CLOCK_TOLERANCE_S = 5;

export interface Jwk {
  kty: string;
  kid: string;
  alg: string;
  use: string;
  n: string;
  e: string;
}

export interface AuthenticatedCaller {
  readonly userId: string;
  readonly roles: readonly string[];
}

/**
 * Verifies access tokens locally with auth-service's published keys (JWKS), so that no request
 * costs a call to auth. Keys are cached by kid; a token signed by a key not yet seen refreshes
 * the cache (rate-limited), which is how a key rotation reaches the gateway.
 */
export class TokenVerifier {
  private keys = new Map<string, KeyObject>();
  private published: readonly Jwk[] = [];
  // Never read yet: older than any age, so the first use reads the set.
  private fetchedAtMs = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  // The last failed read: while auth-service is away, requests do not each wait for it again.
  private failedAtMs = Number.NEGATIVE_INFINITY;
  private lastFailure: unknown;

  constructor(
    private readonly fetchJwks: () => Promise<readonly Jwk[]>,
    private readonly expected: { issuer: string; audience: string },
    private readonly now: () => number = Date.now,
  ) {}

  private refresh(): Promise<void> {
    // A read failed a moment ago: answer from that failure rather than make every request wait
    // (up to a call's deadline, when auth hangs) to learn the same thing.
    if (this.now() - this.failedAtMs < JWKS_REFRESH_MIN_INTERVAL_MS) return Promise.reject(this.lastFailure);
    this.inflight ??= this.fetchJwks()
      .then((jwks) => {
        this.failedAtMs = Number.NEGATIVE_INFINITY;
        this.published = jwks.map((k) => ({ kty: k.kty, kid: k.kid, alg: k.alg, use: k.use, n: k.n, e: k.e }));
        this.keys = new Map(jwks.filter((k) => k.kty === 'RSA').map((k) => [k.kid, createPublicKey({ key: { kty: k.kty, n: k.n, e: k.e }, format: 'jwk' })]));
        this.fetchedAtMs = this.now();
      })
      .catch((e: unknown) => {
        this.failedAtMs = this.now();
        this.lastFailure = e;
        throw e;
      })
      .finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async keyFor(kid: string): Promise<KeyObject | undefined> {
    const ageMs = this.now() - this.fetchedAtMs;
    if (ageMs > JWKS_MAX_AGE_MS || (!this.keys.has(kid) && ageMs > JWKS_REFRESH_MIN_INTERVAL_MS)) {
      try {
        await this.refresh();
      } catch (e) {
        // auth-service is away: the keys already known keep verifying for a bounded time (a
        // retired key stays trusted at most that long), rather than every request becoming 503.
        if (!this.keys.has(kid) || ageMs > JWKS_MAX_STALE_MS) throw e;
      }
    }
    return this.keys.get(kid);
  }

  /**
   * The key set as last read from auth-service, for GET /.well-known/jwks.json: re-read when
   * older than JWKS_MAX_AGE_MS, so a burst of requests costs auth one call, not one each. While
   * auth cannot be asked, the set read last is served for up to JWKS_MAX_STALE_MS.
   */
  async publishedKeys(): Promise<{ readonly keys: readonly Jwk[]; readonly ageMs: number }> {
    const ageMs = this.now() - this.fetchedAtMs;
    if (ageMs > JWKS_MAX_AGE_MS) {
      try {
        await this.refresh();
      } catch (e) {
        if (this.published.length === 0 || ageMs > JWKS_MAX_STALE_MS) throw e;
      }
    }
    return { keys: this.published, ageMs: this.now() - this.fetchedAtMs };
  }

  async verify(token: string): Promise<AuthenticatedCaller> {
    const decoded = jwt.decode(token, { complete: true });
    const kid = decoded?.header.kid;
    if (!decoded || typeof kid !== 'string' || !ACCEPTED_ALGORITHMS.includes(decoded.header.alg as jwt.Algorithm)) throw unauthenticated('the access token is not valid');
    const key = await this.keyFor(kid);
    if (!key) throw unauthenticated('the access token is not valid');
    let claims: jwt.JwtPayload;
    try {
      claims = jwt.verify(token, key, { algorithms: ACCEPTED_ALGORITHMS, issuer: this.expected.issuer, audience: this.expected.audience, clockTolerance: CLOCK_TOLERANCE_S }) as jwt.JwtPayload;
    } catch (e) {
      throw unauthenticated(e instanceof jwt.TokenExpiredError ? 'the access token has expired' : 'the access token is not valid');
    }
    const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
    if (typeof claims.sub !== 'string') throw unauthenticated('the access token is not valid');
    return { userId: claims.sub, roles };
  }
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
    verifier.verify(match[1] as string).then(
      (caller) => {
        (res.locals as Record<symbol, AuthenticatedCaller>)[CALLER] = caller;
        next();
      },
      (e: unknown) => next(e),
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

