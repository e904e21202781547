import { createPublicKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { authV1, defaultGrpcAddress } from '@bank/contracts';
import { DomainError } from '@bank/kernel';
import { v, type VarSpec } from './config';
import { GrpcCaller, createClient } from './grpc';
import type { WorkloadIdentity } from './identity';

/** The one algorithm auth-service signs with. */
export const JWT_ALGORITHM = 'RS256' satisfies jwt.Algorithm;
/** The only algorithm accepted: a token naming another (none, HS256 with the public key, ...) is refused. */
export const ACCEPTED_ALGORITHMS: jwt.Algorithm[] = [JWT_ALGORITHM];
/** An unknown kid triggers a JWKS refresh at most this often, so bad tokens cannot hammer auth. */
export const JWKS_REFRESH_MIN_INTERVAL_MS = 10_000;
/** Known keys are re-read this often, to drop retired ones. */
export const JWKS_MAX_AGE_MS = 5 * 60_000;
/** How long known keys keep verifying while they cannot be re-read (auth-service down). */
export const JWKS_MAX_STALE_MS = 60 * 60_000;
/** One read of the key set from auth-service. */
export const JWKS_FETCH_TIMEOUT_MS = 5_000;
const CLOCK_TOLERANCE_S = 5;
/** Verified tokens remembered per process (an access token is about a kilobyte), and for how long at most. */
export const VERIFIED_TOKEN_CACHE_SIZE = 5_000;
export const VERIFIED_TOKEN_CACHE_MS = 60_000;

export interface Jwk {
  kty: string;
  kid: string;
  alg: string;
  use: string;
  n: string;
  e: string;
}

/** The end user an access token names, as its signature vouches. */
export interface VerifiedUser {
  readonly userId: string;
  readonly roles: readonly string[];
}

const MIN_PEER_PORT = 1;
const MAX_PEER_PORT = 65_535;
/** A DNS name, an IPv4 address or a bracketed IPv6 address, then a port. */
const HOST_PORT_PATTERN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/**
 * The address of a gRPC peer as `host:port`. A URL or a bare host is refused at start, because
 * grpc-js would otherwise accept it and only fail on the first call, far from the typo.
 */
export function hostPort(doc: string, defaultAddress: string): VarSpec<string> {
  return {
    doc,
    default: defaultAddress,
    parse: (raw) => {
      const match = HOST_PORT_PATTERN.exec(raw);
      const port = match ? Number(match[2]) : NaN;
      if (!match || port < MIN_PEER_PORT || port > MAX_PEER_PORT) {
        throw new Error(`must be host:port with a port between ${MIN_PEER_PORT} and ${MAX_PEER_PORT}`);
      }
      return raw;
    },
  };
}

/** What a workload that verifies access tokens reads: where the keys are and what tokens must name. */
export const tokenVerifierSchema = {
  AUTH_GRPC_ADDR: hostPort('gRPC address of auth-service, whose public keys (JWKS) verify access tokens', defaultGrpcAddress('auth-service')),
  JWT_ISSUER: v.string('issuer (iss) that access tokens must name', { default: 'https://bank.local' }),
  JWT_AUDIENCE: v.string('audience (aud) that access tokens must name', { default: 'bank-api' }),
};

/**
 * Verifies access tokens locally with auth-service's published keys (JWKS), so that no request
 * costs a call to auth. Keys are cached by kid; a token signed by a key not yet seen refreshes
 * the cache (rate-limited), which is how a key rotation reaches every verifier. A token that does
 * not verify is DomainError UNAUTHENTICATED; auth-service unreachable with no usable key is thrown.
 */
export class TokenVerifier {
  private keys = new Map<string, KeyObject>();
  private readonly verified = new Map<string, { user: VerifiedUser; untilMs: number }>();
  /** Counts key-set changes: a verification that straddles one is not remembered. */
  private keySetGeneration = 0;
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
        const before = JSON.stringify(this.published);
        this.published = jwks.map((k) => ({ kty: k.kty, kid: k.kid, alg: k.alg, use: k.use, n: k.n, e: k.e }));
        this.keys = new Map(jwks.filter((k) => k.kty === 'RSA').map((k) => [k.kid, createPublicKey({ key: { kty: k.kty, n: k.n, e: k.e }, format: 'jwk' })]));
        // A key retired or replaced: what it verified must be verified again.
        // (The first read changes nothing remembered: nothing was verified before it.)
        if (before !== '[]' && JSON.stringify(this.published) !== before) {
          this.verified.clear();
          this.keySetGeneration += 1;
        }
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
        // retired key stays trusted at most that long), rather than every request failing.
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

  /**
   * A token verified lately answers from here: its signature is checked once per process and
   * VERIFIED_TOKEN_CACHE_MS, not once per request and hop (an RS256 verification was a tenth of a
   * millisecond of CPU on each of the gateway and the service behind it). An entry never outlives
   * the token's expiry, and a change of the key set empties the cache, so a retired key stops
   * verifying as soon as it is known to be retired.
   */
  async verify(token: string): Promise<VerifiedUser> {
    const nowMs = this.now();
    const hit = this.verified.get(token);
    // A key set due for its re-read is read (through verifyNow) before a remembered token passes again.
    if (hit !== undefined && nowMs < hit.untilMs && nowMs - this.fetchedAtMs <= JWKS_MAX_AGE_MS) return hit.user;
    if (hit !== undefined) this.verified.delete(token);
    const generation = this.keySetGeneration;
    const { user, expiresAtMs } = await this.verifyNow(token);
    // Verified with a key set that changed meanwhile: answered, but not remembered.
    if (generation !== this.keySetGeneration) return user;
    this.verified.set(token, { user, untilMs: Math.min(nowMs + VERIFIED_TOKEN_CACHE_MS, expiresAtMs) });
    // Oldest first (a Map keeps insertion order): the cache stays bounded.
    if (this.verified.size > VERIFIED_TOKEN_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
    return user;
  }

  private async verifyNow(token: string): Promise<{ user: VerifiedUser; expiresAtMs: number }> {
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
    // An empty subject would pass for no user at all (an operator's tool): it names nobody, so it is refused.
    if (typeof claims.sub !== 'string' || claims.sub === '') throw unauthenticated('the access token is not valid');
    // jsonwebtoken has checked exp (on the system clock); a token without one is cached for the cache's own lifetime.
    return { user: { userId: claims.sub, roles }, expiresAtMs: typeof claims.exp === 'number' ? claims.exp * 1000 : Number.POSITIVE_INFINITY };
  }
}

function unauthenticated(detail: string): DomainError {
  return new DomainError('UNAUTHENTICATED', detail);
}

/** A verifier whose keys are auth-service's, read over gRPC as `identity`. */
export function authTokenVerifier(config: { AUTH_GRPC_ADDR: string; JWT_ISSUER: string; JWT_AUDIENCE: string }, identity: WorkloadIdentity): { verifier: TokenVerifier; close(): void } {
  const client = createClient(authV1.AuthServiceClient, config.AUTH_GRPC_ADDR, identity);
  const caller = new GrpcCaller();
  const verifier = new TokenVerifier(
    async () => (await caller.unary<authV1.GetJwksResponse>((md, o, cb) => client.getJwks({}, md, o, cb), { timeoutMs: JWKS_FETCH_TIMEOUT_MS })).keys,
    { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE },
  );
  return { verifier, close: () => client.close() };
}
