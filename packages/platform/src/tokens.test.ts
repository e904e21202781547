import { generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JWKS_MAX_AGE_MS, JWKS_MAX_STALE_MS, JWKS_REFRESH_MIN_INTERVAL_MS, TokenVerifier, VERIFIED_TOKEN_CACHE_MS, type Jwk } from './tokens';

// Every service verifies tokens with auth-service's keys. While auth-service is down, the keys it
// already knows keep working for a bounded time; a key it has never seen does not.

const EXPECTED = { issuer: 'https://bank.local', audience: 'bank-api' };
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = publicKey.export({ format: 'jwk' });
const KEY: Jwk = { kty: 'RSA', kid: 'k1', alg: 'RS256', use: 'sig', n: String(jwk.n), e: String(jwk.e) };
// Each token is a new one (its own jwtid), so it is verified with the keys rather than answered from the cache of verified tokens.
const token = (kid = 'k1') => jwt.sign({ roles: ['customer'] }, privateKey, { algorithm: 'RS256', keyid: kid, jwtid: randomUUID(), issuer: EXPECTED.issuer, audience: EXPECTED.audience, subject: 'user-1', expiresIn: '15m' });

/** A verifier over a fake auth-service that can be taken down, on a clock the test moves. */
function fakeAuth(startMs: number) {
  const state = { nowMs: startMs, authUp: true, fetches: 0 };
  const verifier = new TokenVerifier(
    async () => {
      state.fetches++;
      if (!state.authUp) throw new Error('auth-service unavailable');
      return [KEY];
    },
    EXPECTED,
    () => state.nowMs,
  );
  return { state, verifier };
}

describe('TokenVerifier while auth-service is away', () => {
  const { state, verifier } = fakeAuth(1_000_000);

  it('keeps verifying with the known keys past their refresh age, and gives up once they are too stale', async () => {
    expect(await verifier.verify(token())).toEqual({ userId: 'user-1', roles: ['customer'] });
    state.authUp = false;
    state.nowMs += JWKS_MAX_AGE_MS + 1;
    const before = state.fetches;
    expect((await verifier.verify(token())).userId).toBe('user-1');
    expect(state.fetches).toBe(before + 1);
    // A key never seen cannot be trusted on the strength of the cache.
    await expect(verifier.verify(token('k2'))).rejects.toThrow('auth-service unavailable');
    state.nowMs += JWKS_MAX_STALE_MS;
    await expect(verifier.verify(token())).rejects.toThrow('auth-service unavailable');
    // auth-service is back: the next read, once the refresh interval after the last failure has
    // passed, finds it.
    state.authUp = true;
    state.nowMs += JWKS_REFRESH_MIN_INTERVAL_MS;
    expect((await verifier.verify(token())).userId).toBe('user-1');
  });
});

describe('TokenVerifier while auth-service is away, under load', () => {
  it('asks auth at most once per refresh interval, not once per request', async () => {
    const { state, verifier } = fakeAuth(2_000_000);
    await verifier.verify(token());
    state.authUp = false;
    state.nowMs += JWKS_MAX_AGE_MS + 1;
    const before = state.fetches;
    for (let i = 0; i < 50; i++) expect((await verifier.verify(token())).userId).toBe('user-1');
    expect(state.fetches).toBe(before + 1);
    state.nowMs += JWKS_REFRESH_MIN_INTERVAL_MS;
    await verifier.verify(token());
    expect(state.fetches).toBe(before + 2);
    // Back: the next read after the interval succeeds and the failure is forgotten.
    state.authUp = true;
    state.nowMs += JWKS_REFRESH_MIN_INTERVAL_MS;
    await verifier.verify(token());
    await verifier.verify(token());
    expect(state.fetches).toBe(before + 3);
  });
});

describe('the published key set (GET /.well-known/jwks.json)', () => {
  it('is served from the cache: one read of auth per max age, the last one kept while auth is away', async () => {
    const { state, verifier } = fakeAuth(5_000_000);
    for (let i = 0; i < 100; i++) expect((await verifier.publishedKeys()).keys).toEqual([KEY]);
    expect(state.fetches).toBe(1);
    state.nowMs += JWKS_MAX_AGE_MS + 1;
    state.authUp = false;
    expect(await verifier.publishedKeys()).toEqual({ keys: [KEY], ageMs: JWKS_MAX_AGE_MS + 1 });
    expect(state.fetches).toBe(2);
    state.nowMs += JWKS_MAX_STALE_MS;
    await expect(verifier.publishedKeys()).rejects.toThrow('auth-service unavailable');
  });

  it('has nothing to serve before auth has ever answered', async () => {
    const verifier = new TokenVerifier(async () => Promise.reject(new Error('auth-service unavailable')), EXPECTED, () => 1);
    await expect(verifier.publishedKeys()).rejects.toThrow('auth-service unavailable');
  });
});

describe('TokenVerifier: verified tokens', () => {
  it('verifies a token once per cache lifetime, never past its expiry, and again after a key is retired', async () => {
    let keys: Jwk[] = [KEY];
    let nowMs = Date.now();
    let fetches = 0;
    const verifier = new TokenVerifier(async () => (fetches++, keys), EXPECTED, () => nowMs);
    const t = token();
    const verifySpy = jest.spyOn(jwt, 'verify');
    try {
      await verifier.verify(t);
      await verifier.verify(t);
      expect(verifySpy).toHaveBeenCalledTimes(1);
      nowMs += VERIFIED_TOKEN_CACHE_MS + 1;
      await verifier.verify(t);
      expect(verifySpy).toHaveBeenCalledTimes(2);
      // A token that expires sooner than the cache's lifetime is verified again once it has.
      const brief = jwt.sign({ roles: [] }, privateKey, { algorithm: 'RS256', keyid: 'k1', issuer: EXPECTED.issuer, audience: EXPECTED.audience, subject: 'user-2', expiresIn: 2 });
      nowMs = Date.now();
      await verifier.verify(brief);
      await verifier.verify(brief);
      expect(verifySpy).toHaveBeenCalledTimes(3);
      nowMs += 2_001;
      await verifier.verify(brief).catch(() => undefined);
      expect(verifySpy).toHaveBeenCalledTimes(4);
    } finally {
      verifySpy.mockRestore();
    }
    // auth-service retires k1 for k2: a remembered token of k1 makes the due re-read happen, and no longer passes.
    expect((await verifier.verify(t)).userId).toBe('user-1');
    keys = [{ ...KEY, kid: 'k2' }];
    const fetchesBefore = fetches;
    nowMs += JWKS_MAX_AGE_MS + 1;
    await expect(verifier.verify(t)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(fetches).toBe(fetchesBefore + 1);
    await expect(verifier.verify(token('k2'))).resolves.toMatchObject({ userId: 'user-1' });
  });
});
