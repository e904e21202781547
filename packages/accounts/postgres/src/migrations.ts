import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { platformMigrations } from '@bank/platform';

/** Profiles and bank accounts of user-service. */
class AccountsSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE profiles (
        id         uuid PRIMARY KEY,
        email      text NOT NULL,
        full_name  text NOT NULL,
        phone      text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL
      )`);
    this.addSql(`
      CREATE TABLE bank_accounts (
        id            uuid PRIMARY KEY,
        owner_id      uuid NOT NULL,
        currency      char(3) NOT NULL,
        status        text NOT NULL CHECK (status IN ('active', 'frozen', 'closed')),
        frozen_reason text,
        open_key      text,
        version       integer NOT NULL,
        created_at    timestamptz NOT NULL,
        -- A retried OpenAccount with the same key finds the first account instead of a second one.
        UNIQUE (owner_id, open_key)
      )`);
    this.addSql('CREATE INDEX bank_accounts_owner ON bank_accounts (owner_id, id)');
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE bank_accounts, profiles');
  }
}

/**
 * The store's optimistic lock is MikroORM's (`version: true`): MikroORM leaves the version out of
 * an insert and reads back the column's default, so the column needs one; a new account is at 1.
 */
class AccountVersionDefault extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE bank_accounts ALTER COLUMN version SET DEFAULT 1');
  }

  override async down(): Promise<void> {
    this.addSql('ALTER TABLE bank_accounts ALTER COLUMN version DROP DEFAULT');
  }
}

/**
 * Opening keys are kept as the client sent them: the gateway used to prefix its caller's id,
 * which the (owner_id, open_key) key already scopes, and the prefix pushed long keys over the
 * length limit. Keys stored with the prefix lose it, so that their retries still find them.
 */
class OpenKeysAsSent extends Migration {
  override async up(): Promise<void> {
    this.addSql("UPDATE bank_accounts SET open_key = substr(open_key, length(owner_id::text) + 2) WHERE starts_with(open_key, owner_id::text || ':')");
  }

  override async down(): Promise<void> {
    this.addSql("UPDATE bank_accounts SET open_key = owner_id::text || ':' || open_key WHERE open_key IS NOT NULL");
  }
}

export const accountsMigrations: readonly MigrationObject[] = [
  ...platformMigrations,
  { name: '0001_accounts_schema', class: AccountsSchema },
  { name: '0002_accounts_version_default', class: AccountVersionDefault },
  { name: '0003_accounts_open_keys_as_sent', class: OpenKeysAsSent },
];
