import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JWKS_MAX_AGE_MS, JWKS_MAX_STALE_MS, TokenVerifier, type Jwk } from './auth-token';

// The gateway verifies tokens with auth-service's keys. While auth-service is down, the keys it
// already knows keep working for a bounded time; a key it has never seen does not.

const EXPECTED = { issuer: 'https://bank.local', audience: 'bank-api' };
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = publicKey.export({ format: 'jwk' });
const KEY: Jwk = { kty: 'RSA', kid: 'k1', alg: 'RS256', n: String(jwk.n), e: String(jwk.e) };
const token = (kid = 'k1') => jwt.sign({ roles: ['customer'] }, privateKey, { algorithm: 'RS256', keyid: kid, issuer: EXPECTED.issuer, audience: EXPECTED.audience, subject: 'user-1', expiresIn: '15m' });

describe('TokenVerifier while auth-service is away', () => {
  let nowMs = 1_000_000;
  let authUp = true;
  let fetches = 0;
  const verifier = new TokenVerifier(
    async () => {
      fetches++;
      if (!authUp) throw new Error('auth-service unavailable');
      return [KEY];
    },
    EXPECTED,
    () => nowMs,
  );

  it('keeps verifying with the known keys past their refresh age, and gives up once they are too stale', async () => {
    expect(await verifier.verify(token())).toEqual({ userId: 'user-1', roles: ['customer'] });
    authUp = false;
    nowMs += JWKS_MAX_AGE_MS + 1;
    const before = fetches;
    expect((await verifier.verify(token())).userId).toBe('user-1');
    expect(fetches).toBe(before + 1);
    // A key never seen cannot be trusted on the strength of the cache.
    await expect(verifier.verify(token('k2'))).rejects.toThrow('auth-service unavailable');
    nowMs += JWKS_MAX_STALE_MS;
    await expect(verifier.verify(token())).rejects.toThrow('auth-service unavailable');
    authUp = true;
    expect((await verifier.verify(token())).userId).toBe('user-1');
  });
});
