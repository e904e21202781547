import { createHash, randomBytes } from 'node:crypto';
import { DomainError, EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH, ROLES, fieldError, newId, type Clock, type Role } from '@bank/kernel';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import { appendToOutbox, type Database, type EntityManager } from '@bank/platform';
import { LoginFailuresByIpSchema, RefreshTokenSchema, UserSchema } from './entities';
import { assertStrongPassword, type PasswordHasher } from './passwords';
import type { SigningKeys } from './signing';

export const REFRESH_TOKEN_BYTES = 32;
/** Failed logins of one account inside the window before it is refused without a password check. */
export const MAX_FAILED_LOGINS_PER_ACCOUNT = 10;
/** Failed logins from one address inside the window before that address is refused. */
export const MAX_FAILED_LOGINS_PER_IP = 50;
export const FAILED_LOGIN_WINDOW_MS = 15 * 60_000;
/** Rounds of revocation at most in one sessions revoke (one is the rule; more catch rotations racing it). */
export const REVOKE_MAX_ROUNDS = 5;
/** Every user starts as a customer; staff roles are granted by setRoles. */
const SIGNUP_ROLES: readonly Role[] = ['customer'];
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresInSeconds: number;
}

export interface UserRecord {
  userId: string;
  email: string;
  fullName: string;
  roles: string[];
  createdAt: Date;
  failedLogins: number;
  lockedUntil: Date | null;
  activeSessions: number;
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

/** One statement for the whole family, however many tokens it holds. */
async function revokeFamily(em: EntityManager, familyId: string): Promise<void> {
  await em.nativeUpdate(RefreshTokenSchema, { familyId, status: { $ne: 'revoked' } }, { status: 'revoked' });
}

/**
 * auth-service's transaction scripts: signup, login, refresh rotation with reuse detection,
 * logout and roles. Thin on purpose: every step is one database transaction.
 */
export class Auth {
  constructor(
    private readonly db: Database,
    private readonly hasher: PasswordHasher,
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly refreshTtlSeconds: number,
  ) {}

  async signUp(input: { email: string; password: string; fullName: string }, traceparent = ''): Promise<{ userId: string; email: string }> {
    const email = normaliseEmail(input.email);
    const fullName = input.fullName.trim();
    const fields: { field: string; message: string }[] = [];
    if (email.length > EMAIL_MAX_LENGTH || !EMAIL_PATTERN.test(email)) fields.push({ field: 'email', message: 'must be an email address' });
    if (fullName.length === 0 || fullName.length > FULL_NAME_MAX_LENGTH) fields.push({ field: 'fullName', message: `must be 1 to ${FULL_NAME_MAX_LENGTH} characters` });
    if (fields.length > 0) throw new DomainError('VALIDATION_FAILED', 'invalid signup', { fields });
    assertStrongPassword(input.password);
    const passwordHash = await this.hasher.hash(input.password);
    const userId = newId();
    try {
      return await this.db.transaction(async (c, em) => {
        em.create(UserSchema, { id: userId, email, passwordHash, fullName, roles: [...SIGNUP_ROLES], failedLogins: 0, lastFailedAt: null, createdAt: this.clock.now() });
        await em.flush();
        await appendToOutbox(c, [{ type: 'user.registered', aggregateId: userId, payload: { userId, email, fullName }, traceparent }]);
        return { userId, email };
      });
    } catch (e) {
      // The email's unique index: a concurrent or earlier signup with it won.
      if (e instanceof UniqueConstraintViolationException) throw fieldError('EMAIL_TAKEN', 'email', 'is already registered');
      throw e;
    }
  }

  /**
   * The same INVALID_CREDENTIALS, after the same bcrypt work, whether the email exists or not.
   * Each attempt counts as a failure before its password is checked, in one step that locks the
   * counters: of many guesses sent at once, only as many as the limits allow reach a comparison
   * with the real hash. A success then takes its count back.
   */
  async login(input: { email: string; password: string; clientIp: string }): Promise<TokenPair> {
    const email = normaliseEmail(input.email);
    const now = this.clock.now();
    const windowStart = new Date(now.getTime() - FAILED_LOGIN_WINDOW_MS);
    const ip = input.clientIp || 'unknown';
    type Attempt = { rateLimitedUntil: Date } | { user: { id: string; passwordHash: string; roles: string[] } | undefined; lockedOut: boolean };
    const attempt = await this.db.transaction(async (_c, em): Promise<Attempt> => {
      // The address's first attempt makes its row; the lock below then serialises the counting.
      await em.createQueryBuilder(LoginFailuresByIpSchema).insert({ ip, windowStart: now, failures: 0 }).onConflict('ip').ignore().execute();
      const byIp = await em.findOneOrFail(LoginFailuresByIpSchema, { ip }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (byIp.windowStart <= windowStart) em.assign(byIp, { windowStart: now, failures: 0 });
      if (byIp.failures >= MAX_FAILED_LOGINS_PER_IP) return { rateLimitedUntil: new Date(byIp.windowStart.getTime() + FAILED_LOGIN_WINDOW_MS) };
      byIp.failures += 1;
      const user = await em.findOne(UserSchema, { email }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      let lockedOut = false;
      if (user) {
        const recent = user.lastFailedAt !== null && user.lastFailedAt > windowStart;
        lockedOut = recent && user.failedLogins >= MAX_FAILED_LOGINS_PER_ACCOUNT;
        em.assign(user, { failedLogins: recent ? user.failedLogins + 1 : 1, lastFailedAt: now });
      }
      await em.flush();
      return { user: user ? { id: user.id, passwordHash: user.passwordHash, roles: user.roles } : undefined, lockedOut };
    });
    if ('rateLimitedUntil' in attempt) {
      const retryAfterSeconds = Math.max(1, Math.ceil((attempt.rateLimitedUntil.getTime() - now.getTime()) / 1000));
      throw new DomainError('RATE_LIMITED', 'too many failed logins from this address', { retryAfterSeconds });
    }
    const { user, lockedOut } = attempt;
    // A locked account still costs a bcrypt comparison, so that locking is not visible in timing.
    const ok = (await this.hasher.verify(input.password, lockedOut ? undefined : user?.passwordHash)) && !lockedOut;
    if (!user || !ok) throw new DomainError('INVALID_CREDENTIALS', 'wrong email or password');
    return this.db.transaction(async (_c, em) => {
      await em.nativeUpdate(UserSchema, { id: user.id }, { failedLogins: 0, lastFailedAt: null });
      const byIp = await em.findOne(LoginFailuresByIpSchema, { ip }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (byIp && byIp.failures > 0) byIp.failures -= 1;
      return this.issue(em, user.id, user.roles, newId());
    });
  }

  /**
   * Rotates a refresh token: the presented one becomes used and a new one joins its family.
   * Presenting a token that was already used means it leaked (RFC 9700 reuse detection): the
   * whole family is revoked, the thief's and the owner's sessions alike.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const outcome = await this.db.transaction(async (_c, em) => {
      // Locked: of two rotations of one token racing, the second sees it used and revokes the family.
      const token = await em.findOne(RefreshTokenSchema, { tokenHash: hashToken(refreshToken) }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!token) return { error: 'unknown' as const };
      if (token.status !== 'active') {
        await revokeFamily(em, token.familyId);
        return { error: 'reused' as const };
      }
      if (token.expiresAt <= this.clock.now()) return { error: 'expired' as const };
      token.status = 'used';
      const user = await em.findOne(UserSchema, { id: token.userId });
      return { pair: await this.issue(em, token.userId, user?.roles ?? [], token.familyId) };
    });
    // The revocation above commits before the caller hears about it.
    if ('error' in outcome) throw new DomainError('INVALID_REFRESH_TOKEN', outcome.error === 'reused' ? 'refresh token was already used; its sessions are revoked' : 'refresh token is not valid');
    return outcome.pair;
  }

  /** Revokes the token's whole family; an unknown token is not an error (logout is idempotent). */
  async logout(refreshToken: string): Promise<void> {
    await this.db.transaction(async (_c, em) => {
      const token = await em.findOne(RefreshTokenSchema, { tokenHash: hashToken(refreshToken) });
      if (token) await revokeFamily(em, token.familyId);
    });
  }

  async setRoles(email: string, roles: readonly string[]): Promise<{ userId: string; roles: string[] }> {
    const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (unknown.length > 0 || roles.length === 0) throw fieldError('VALIDATION_FAILED', 'roles', `must be some of ${ROLES.join(', ')}`);
    const unique = [...new Set(roles)];
    const userId = await this.db.transaction(async (_c, em) => {
      const user = await em.findOne(UserSchema, { email: normaliseEmail(email) });
      if (!user) return undefined;
      user.roles = unique;
      await em.flush();
      return user.id;
    });
    if (userId === undefined) throw new DomainError('NOT_FOUND', 'no such user');
    return { userId, roles: unique };
  }

  /** An operator's look at a user's credentials: roles, the lockout, how many sessions are open. Never the hash. */
  async user(email: string): Promise<UserRecord> {
    const user = await this.db.em().findOne(UserSchema, { email: normaliseEmail(email) }, { fields: ['id', 'email', 'fullName', 'roles', 'failedLogins', 'lastFailedAt', 'createdAt'] });
    if (!user) throw new DomainError('NOT_FOUND', 'no such user');
    const now = this.clock.now();
    const recent = user.lastFailedAt !== null && user.lastFailedAt.getTime() > now.getTime() - FAILED_LOGIN_WINDOW_MS;
    const lockedUntil = recent && user.failedLogins >= MAX_FAILED_LOGINS_PER_ACCOUNT && user.lastFailedAt ? new Date(user.lastFailedAt.getTime() + FAILED_LOGIN_WINDOW_MS) : null;
    const { rows } = await this.db.sql.query<{ n: number }>(
      `SELECT count(DISTINCT family_id)::int AS n FROM refresh_tokens WHERE user_id = $1 AND status = 'active' AND expires_at > $2`,
      [user.id, now],
    );
    return { userId: user.id, email: user.email, fullName: user.fullName, roles: user.roles, createdAt: user.createdAt, failedLogins: recent ? user.failedLogins : 0, lockedUntil, activeSessions: rows[0]?.n ?? 0 };
  }

  /**
   * Ends every session of a user: all their refresh-token families are revoked in one statement.
   * Access tokens already out stay valid until they expire (they are checked offline, by key).
   */
  async revokeSessions(email: string): Promise<{ userId: string; revokedSessions: number }> {
    const outcome = await this.db.transaction(async (c, em) => {
      const user = await em.findOne(UserSchema, { email: normaliseEmail(email) }, { fields: ['id'] });
      if (!user) return undefined;
      // A refresh racing this one may commit a new token after the statement's snapshot: each
      // statement (READ COMMITTED) sees what committed before it, so it runs again until it finds
      // nothing left to revoke (bounded: each round only catches a rotation in flight).
      const families = new Set<string>();
      for (let round = 0; round < REVOKE_MAX_ROUNDS; round++) {
        const { rows } = await c.query<{ family_id: string; live: boolean }>(
          `UPDATE refresh_tokens SET status = 'revoked' WHERE user_id = $1 AND status <> 'revoked' RETURNING family_id, expires_at > $2 AS live`,
          [user.id, this.clock.now()],
        );
        if (rows.length === 0) break;
        for (const r of rows) if (r.live) families.add(r.family_id);
      }
      return { userId: user.id, revokedSessions: families.size };
    });
    if (!outcome) throw new DomainError('NOT_FOUND', 'no such user');
    return outcome;
  }

  /** Adds a new active token to the family and flushes the unit of work it is part of. */
  private async issue(em: EntityManager, userId: string, roles: readonly string[], familyId: string): Promise<TokenPair> {
    const refreshToken = randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
    const now = this.clock.now();
    em.create(RefreshTokenSchema, { id: newId(), familyId, userId, tokenHash: hashToken(refreshToken), status: 'active', expiresAt: new Date(now.getTime() + this.refreshTtlSeconds * 1000), createdAt: now });
    await em.flush();
    const access = await this.keys.sign({ sub: userId, roles });
    return { accessToken: access.token, refreshToken, tokenType: 'Bearer', expiresInSeconds: access.expiresInSeconds };
  }
}
