import { newId } from '@bank/kernel';
import { migrationsReversibleContract } from '@bank/testkit';
import { authMigrations } from './migrations';

describe('auth migrations', () => {
  migrationsReversibleContract('auth', authMigrations, async (db) => {
    const user = newId();
    await db.transaction(async (c) => {
      await c.query("INSERT INTO users (id, email, password_hash, full_name, created_at) VALUES ($1, 'ada@example.com', 'x', 'Ada', now())", [user]);
      await c.query("INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, status, expires_at, created_at) VALUES ($1, $2, $3, '\\x01', 'active', now() + interval '1 day', now())", [newId(), newId(), user]);
      await c.query("INSERT INTO signing_keys (kid, private_pem, public_jwk, created_at) VALUES ('k1', 'pem', '{}', now())");
      await c.query("INSERT INTO login_failures_by_ip (ip, window_start, failures) VALUES ('127.0.0.1', now(), 3)");
    });
  });
});
