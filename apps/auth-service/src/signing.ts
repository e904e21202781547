import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { DomainError, assert, newId, type Clock } from '@bank/kernel';
import { JWKS_REFRESH_MIN_INTERVAL_MS, JWT_ALGORITHM, type Database, type Jwk, type SqlClient } from '@bank/platform';
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
 * A rotated-in key is published this long before it signs. A verifier asks for the JWKS again on
 * an unknown kid at most every JWKS_REFRESH_MIN_INTERVAL_MS, so by the time the first token under
 * the new key reaches one, it can know the key: a rotation rejects no valid token.
 */
export const KEY_PUBLISH_LEAD_MS = 2 * JWKS_REFRESH_MIN_INTERVAL_MS;

export interface SigningKeyInfo {
  readonly kid: string;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
  readonly signing: boolean;
  readonly published: boolean;
}

/**
 * The signing keys. One key signs at a time; every key not retired longer ago than a token lives
 * is published, so that during a rotation two keys are valid at once. Keys come from
 * JWT_PRIVATE_KEY, or are generated on first start and kept in the auth database, where a
 * rotation (bank-cli keys rotate) replaces them for every replica at once: each issue of a token
 * reads which key signs now.
 */
export class SigningKeys {
  /** The configured key (JWT_PRIVATE_KEY), which always signs; unset when keys are generated. */
  private configured: { kid: string; privatePem: string } | undefined;
  private loaded = false;

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
      this.configured = { kid: configured.kid, privatePem: configured.privatePem };
    } else if ((await this.signingKey()) === undefined) {
      await this.insertKey(this.clock.now());
    }
    this.loaded = true;
  }

  /**
   * Generates a new key, published now and signing from KEY_PUBLISH_LEAD_MS on; every other key
   * retires then (it stays published while tokens it signed live). Refused while the key is
   * configured: that one is replaced by configuring another under a new JWT_KEY_ID.
   */
  async rotate(): Promise<{ kid: string; signsFrom: Date }> {
    if (this.configured) throw new DomainError('SIGNING_KEY_CONFIGURED', `tokens are signed with the configured JWT_PRIVATE_KEY (kid "${this.configured.kid}"); rotate by configuring a new key under a new JWT_KEY_ID`);
    const now = this.clock.now();
    const signsFrom = new Date(now.getTime() + KEY_PUBLISH_LEAD_MS);
    const kid = await this.db.transaction(async (c) => {
      // Two rotations at once would each retire the other's key: one waits for the other.
      await c.query('LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE');
      await c.query('UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL OR retired_at > $1', [signsFrom]);
      return this.insertKey(now, c);
    });
    return { kid, signsFrom };
  }

  /** Every key still recorded, oldest first, with whether it signs and whether it is published. */
  async list(): Promise<SigningKeyInfo[]> {
    const signing = this.configured?.kid ?? (await this.signingKey())?.kid;
    const publishedSince = this.publishedSince();
    const rows = await this.db.em().find(SigningKeySchema, {}, { orderBy: { createdAt: 'asc' }, fields: ['kid', 'createdAt', 'retiredAt'] });
    return rows.map((r) => ({ kid: r.kid, createdAt: r.createdAt, retiredAt: r.retiredAt, signing: r.kid === signing, published: r.retiredAt === null || r.retiredAt > publishedSince }));
  }

  async jwks(): Promise<PublicJwk[]> {
    const rows = await this.db.em().find(SigningKeySchema, { $or: [{ retiredAt: null }, { retiredAt: { $gt: this.publishedSince() } }] }, { orderBy: { createdAt: 'asc' }, fields: ['publicJwk'] });
    return rows.map((r) => r.publicJwk);
  }

  /** Keys retired after this still verify tokens that live. */
  private publishedSince(): Date {
    return new Date(this.clock.now().getTime() - this.opts.accessTtlSeconds * 1000);
  }

  /**
   * The key that signs now: of those not yet retired, the newest published at least
   * KEY_PUBLISH_LEAD_MS ago; when none is that old (a rotation soon after the very first key was
   * made), the oldest, which is the one that was signing.
   */
  private async signingKey(): Promise<{ kid: string; privatePem: string } | undefined> {
    const now = this.clock.now();
    const { rows } = await this.db.sql.query<{ kid: string; private_pem: string }>(
      `SELECT kid, private_pem FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1
        ORDER BY created_at <= $2 DESC, CASE WHEN created_at <= $2 THEN created_at END DESC NULLS LAST, created_at ASC LIMIT 1`,
      [now, new Date(now.getTime() - KEY_PUBLISH_LEAD_MS)],
    );
    const row = rows[0];
    return row && { kid: row.kid, privatePem: row.private_pem };
  }

  private async insertKey(createdAt: Date, c: SqlClient = this.db.sql): Promise<string> {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_MODULUS_BITS });
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const kid = newId();
    const values = [kid, privatePem, JSON.stringify(toJwk(kid, privatePem)), createdAt];
    const sql = 'INSERT INTO signing_keys (kid, private_pem, public_jwk, created_at) VALUES ($1, $2, $3, $4)';
    await c.query(sql, values);
    return kid;
  }

  async sign(claims: AccessClaims): Promise<{ token: string; expiresInSeconds: number }> {
    assert(this.loaded, 'signing keys not loaded');
    const key = this.configured ?? (await this.signingKey());
    assert(key, 'no signing key is current: every recorded key is retired');
    const nowS = Math.floor(this.clock.now().getTime() / 1000);
    const token = jwt.sign({ roles: claims.roles, iat: nowS, exp: nowS + this.opts.accessTtlSeconds }, key.privatePem, {
      algorithm: JWT_ALGORITHM,
      keyid: key.kid,
      issuer: this.opts.issuer,
      audience: this.opts.audience,
      subject: claims.sub,
      jwtid: newId(),
    });
    return { token, expiresInSeconds: this.opts.accessTtlSeconds };
  }
}
