import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { platformMigrations } from '@bank/platform';

/** Credentials, refresh-token families, signing keys and failed-login counters. */
class AuthSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE users (
        id             uuid PRIMARY KEY,
        email          text NOT NULL UNIQUE,
        password_hash  text NOT NULL,
        full_name      text NOT NULL,
        roles          text[] NOT NULL DEFAULT '{customer}',
        failed_logins  integer NOT NULL DEFAULT 0,
        last_failed_at timestamptz,
        created_at     timestamptz NOT NULL
      )`);
    // Only a hash of each refresh token is stored: a leaked table does not hand out sessions.
    this.addSql(`
      CREATE TABLE refresh_tokens (
        id         uuid PRIMARY KEY,
        family_id  uuid NOT NULL,
        user_id    uuid NOT NULL REFERENCES users (id),
        token_hash bytea NOT NULL UNIQUE,
        status     text NOT NULL CHECK (status IN ('active', 'used', 'revoked')),
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    this.addSql('CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)');
    this.addSql(`
      CREATE TABLE signing_keys (
        kid         text PRIMARY KEY,
        private_pem text NOT NULL,
        public_jwk  jsonb NOT NULL,
        created_at  timestamptz NOT NULL,
        retired_at  timestamptz
      )`);
    this.addSql(`
      CREATE TABLE login_failures_by_ip (
        ip           text PRIMARY KEY,
        window_start timestamptz NOT NULL,
        failures     integer NOT NULL
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE login_failures_by_ip, signing_keys, refresh_tokens, users');
  }
}

export const authMigrations: readonly MigrationObject[] = [...platformMigrations, { name: '0001_auth_schema', class: AuthSchema }];
