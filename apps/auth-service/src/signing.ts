import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { newId, type Clock } from '@bank/kernel';
import { JWT_ALGORITHM, type Database, type Jwk } from '@bank/platform';
import { SigningKeySchema } from './entities';

const RSA_MODULUS_BITS = 2048;

/** A published key: the public half only. */
export type PublicJwk = Jwk;

function toJwk(kid: string, privatePem: string): PublicJwk {
  const jwk = createPublicKey(createPrivateKey(privatePem)).export({ format: 'jwk' });
  return { kty: String(jwk.kty), kid, alg: JWT_ALGORITHM, use: 'sig', n: String(jwk.n), e: String(jwk.e) };
}

export interface AccessClaims {
  sub: string;
  roles: readonly string[];
}

/**
 * The signing keys. The active one signs; every key not retired longer ago than a token lives
 * is published, so that during a rotation two keys are valid at once. Keys come from
 * JWT_PRIVATE_KEY, or are generated on first start and kept in the auth database.
 */
export class SigningKeys {
  private active: { kid: string; privatePem: string } | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly opts: { issuer: string; audience: string; accessTtlSeconds: number },
  ) {}

  async load(configured: { privatePem: string; kid: string } | undefined): Promise<void> {
    if (configured) {
      if (createPrivateKey(configured.privatePem).asymmetricKeyType !== 'rsa') throw new Error('JWT_PRIVATE_KEY must be an RSA key (tokens are signed RS256)');
      // A configured key is recorded once, so that the JWKS keeps publishing it after it is replaced.
      const publicJwk = toJwk(configured.kid, configured.privatePem);
      await this.db
        .em()
        .createQueryBuilder(SigningKeySchema)
        .insert({ kid: configured.kid, privatePem: configured.privatePem, publicJwk, createdAt: this.clock.now() })
        .onConflict('kid')
        .ignore()
        .execute();
      // Another key under a kid already recorded would sign tokens that the published (old) public
      // key cannot verify: refused at start, not discovered as every token failing.
      const recorded = await this.db.em().findOneOrFail(SigningKeySchema, { kid: configured.kid }, { fields: ['publicJwk'] });
      if (recorded.publicJwk.n !== publicJwk.n || recorded.publicJwk.e !== publicJwk.e) {
        throw new Error(`JWT_PRIVATE_KEY is not the key recorded under JWT_KEY_ID "${configured.kid}": give a new key a new JWT_KEY_ID`);
      }
      this.active = { kid: configured.kid, privatePem: configured.privatePem };
      return;
    }
    const row = await this.db.em().findOne(SigningKeySchema, { retiredAt: null }, { orderBy: { createdAt: 'desc' } });
    if (row) {
      this.active = { kid: row.kid, privatePem: row.privatePem };
      return;
    }
    await this.rotate();
  }

  /** Generates a new key and makes it the active one; the previous key stays published until it retires. */
  async rotate(): Promise<string> {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_MODULUS_BITS });
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const kid = newId();
    await this.db.em().insert(SigningKeySchema, { kid, privatePem, publicJwk: toJwk(kid, privatePem), createdAt: this.clock.now(), retiredAt: null });
    this.active = { kid, privatePem };
    return kid;
  }

  /** Retires a key: it signs nothing more and leaves the JWKS once tokens it signed have expired. */
  async retire(kid: string): Promise<void> {
    await this.db.em().nativeUpdate(SigningKeySchema, { kid, retiredAt: null }, { retiredAt: this.clock.now() });
  }

  async jwks(): Promise<PublicJwk[]> {
    const since = new Date(this.clock.now().getTime() - this.opts.accessTtlSeconds * 1000);
    const rows = await this.db.em().find(SigningKeySchema, { $or: [{ retiredAt: null }, { retiredAt: { $gt: since } }] }, { orderBy: { createdAt: 'asc' }, fields: ['publicJwk'] });
    return rows.map((r) => r.publicJwk);
  }

  sign(claims: AccessClaims): { token: string; expiresInSeconds: number } {
    if (!this.active) throw new Error('signing keys not loaded');
    const nowS = Math.floor(this.clock.now().getTime() / 1000);
    const token = jwt.sign({ roles: claims.roles, iat: nowS, exp: nowS + this.opts.accessTtlSeconds }, this.active.privatePem, {
      algorithm: JWT_ALGORITHM,
      keyid: this.active.kid,
      issuer: this.opts.issuer,
      audience: this.opts.audience,
      subject: claims.sub,
      jwtid: newId(),
    });
    return { token, expiresInSeconds: this.opts.accessTtlSeconds };
  }
}
