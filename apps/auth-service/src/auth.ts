import { createHash, randomBytes } from 'node:crypto';
import { DomainError, ROLES, newId, type Clock } from '@bank/kernel';
import { appendToOutbox, type Database, type SqlClient } from '@bank/platform';
import { assertStrongPassword, type PasswordHasher } from './passwords';
import type { SigningKeys } from './signing';

export const EMAIL_MAX_LENGTH = 254;
export const FULL_NAME_MAX_LENGTH = 100;
export const REFRESH_TOKEN_BYTES = 32;
/** Failed logins of one account inside the window before it is refused without a password check. */
export const MAX_FAILED_LOGINS_PER_ACCOUNT = 10;
/** Failed logins from one address inside the window before that address is refused. */
export const MAX_FAILED_LOGINS_PER_IP = 50;
export const FAILED_LOGIN_WINDOW_MS = 15 * 60_000;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresInSeconds: number;
}

function fieldError(code: string, field: string, message: string): DomainError {
  return new DomainError(code, `${field}: ${message}`, { fields: [{ field, message }] });
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

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
    return this.db.transaction(async (c) => {
      const inserted = await c.query(
        `INSERT INTO users (id, email, password_hash, full_name, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING`,
        [userId, email, passwordHash, fullName, this.clock.now()],
      );
      if (inserted.rowCount === 0) throw fieldError('EMAIL_TAKEN', 'email', 'is already registered');
      await appendToOutbox(c, [{ type: 'user.registered', aggregateId: userId, payload: { userId, email, fullName }, traceparent }]);
      return { userId, email };
    });
  }

  /** The same INVALID_CREDENTIALS, after the same bcrypt work, whether the email exists or not. */
  async login(input: { email: string; password: string; clientIp: string }): Promise<TokenPair> {
    const email = normaliseEmail(input.email);
    const now = this.clock.now();
    const windowStart = new Date(now.getTime() - FAILED_LOGIN_WINDOW_MS);
    const ip = input.clientIp || 'unknown';
    const ipFailures = await this.db.transaction((c) =>
      c.query<{ failures: number }>('SELECT failures FROM login_failures_by_ip WHERE ip = $1 AND window_start > $2', [ip, windowStart]),
    );
    if ((ipFailures.rows[0]?.failures ?? 0) >= MAX_FAILED_LOGINS_PER_IP) throw new DomainError('RATE_LIMITED', 'too many failed logins from this address');
    const { rows } = await this.db.transaction((c) =>
      c.query<{ id: string; password_hash: string; roles: string[]; failed_logins: number; last_failed_at: Date | string | null }>(
        'SELECT id, password_hash, roles, failed_logins, last_failed_at FROM users WHERE email = $1',
        [email],
      ),
    );
    const user = rows[0];
    const lockedOut = user !== undefined && user.failed_logins >= MAX_FAILED_LOGINS_PER_ACCOUNT && user.last_failed_at !== null && new Date(user.last_failed_at) > windowStart;
    // A locked account still costs a bcrypt comparison, so that locking is not visible in timing.
    const ok = (await this.hasher.verify(input.password, lockedOut ? undefined : user?.password_hash)) && !lockedOut;
    if (!user || !ok) {
      await this.recordFailure(user?.id, ip, now, windowStart);
      throw new DomainError('INVALID_CREDENTIALS', 'wrong email or password');
    }
    return this.db.transaction(async (c) => {
      await c.query('UPDATE users SET failed_logins = 0, last_failed_at = NULL WHERE id = $1', [user.id]);
      return this.issue(c, user.id, user.roles, newId());
    });
  }

  private async recordFailure(userId: string | undefined, ip: string, now: Date, windowStart: Date): Promise<void> {
    await this.db.transaction(async (c) => {
      if (userId) {
        await c.query(
          `UPDATE users SET failed_logins = CASE WHEN last_failed_at > $3 THEN failed_logins + 1 ELSE 1 END, last_failed_at = $2 WHERE id = $1`,
          [userId, now, windowStart],
        );
      }
      await c.query(
        `INSERT INTO login_failures_by_ip (ip, window_start, failures) VALUES ($1, $2, 1)
         ON CONFLICT (ip) DO UPDATE SET failures = CASE WHEN login_failures_by_ip.window_start > $3 THEN login_failures_by_ip.failures + 1 ELSE 1 END,
                                        window_start = CASE WHEN login_failures_by_ip.window_start > $3 THEN login_failures_by_ip.window_start ELSE $2 END`,
        [ip, now, windowStart],
      );
    });
  }

  /**
   * Rotates a refresh token: the presented one becomes used and a new one joins its family.
   * Presenting a token that was already used means it leaked (RFC 9700 reuse detection): the
   * whole family is revoked, the thief's and the owner's sessions alike.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const outcome = await this.db.transaction(async (c) => {
      const { rows } = await c.query<{ id: string; family_id: string; user_id: string; status: string; expires_at: Date | string }>(
        'SELECT id, family_id, user_id, status, expires_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE',
        [hashToken(refreshToken)],
      );
      const token = rows[0];
      if (!token) return { error: 'unknown' as const };
      if (token.status !== 'active') {
        await c.query("UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = $1 AND status <> 'revoked'", [token.family_id]);
        return { error: 'reused' as const };
      }
      if (new Date(token.expires_at) <= this.clock.now()) return { error: 'expired' as const };
      await c.query("UPDATE refresh_tokens SET status = 'used' WHERE id = $1", [token.id]);
      const { rows: users } = await c.query<{ roles: string[] }>('SELECT roles FROM users WHERE id = $1', [token.user_id]);
      return { pair: await this.issue(c, token.user_id, users[0]?.roles ?? [], token.family_id) };
    });
    // The revocation above commits before the caller hears about it.
    if ('error' in outcome) throw new DomainError('INVALID_REFRESH_TOKEN', outcome.error === 'reused' ? 'refresh token was already used; its sessions are revoked' : 'refresh token is not valid');
    return outcome.pair;
  }

  /** Revokes the token's whole family; an unknown token is not an error (logout is idempotent). */
  async logout(refreshToken: string): Promise<void> {
    await this.db.transaction((c) =>
      c.query(
        "UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND status <> 'revoked'",
        [hashToken(refreshToken)],
      ),
    );
  }

  async setRoles(email: string, roles: readonly string[]): Promise<{ userId: string; roles: string[] }> {
    const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (unknown.length > 0 || roles.length === 0) throw fieldError('VALIDATION_FAILED', 'roles', `must be some of ${ROLES.join(', ')}`);
    const unique = [...new Set(roles)];
    const { rows } = await this.db.transaction((c) => c.query<{ id: string }>('UPDATE users SET roles = $2 WHERE email = $1 RETURNING id', [normaliseEmail(email), unique]));
    if (!rows[0]) throw new DomainError('NOT_FOUND', 'no such user');
    return { userId: rows[0].id, roles: unique };
  }

  private async issue(c: SqlClient, userId: string, roles: readonly string[], familyId: string): Promise<TokenPair> {
    const refreshToken = randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
    const now = this.clock.now();
    await c.query(
      `INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, status, expires_at, created_at) VALUES ($1, $2, $3, $4, 'active', $5, $6)`,
      [newId(), familyId, userId, hashToken(refreshToken), new Date(now.getTime() + this.refreshTtlSeconds * 1000), now],
    );
    const access = this.keys.sign({ sub: userId, roles });
    return { accessToken: access.token, refreshToken, tokenType: 'Bearer', expiresInSeconds: access.expiresInSeconds };
  }
}
