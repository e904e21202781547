import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { platformMigrations } from '@bank/platform';

/** Payments with their saga state, idempotency records, deposits, the daily totals and the account projection. */
class PaymentsSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE payments (
        id                     uuid PRIMARY KEY,
        initiator_id           uuid NOT NULL,
        source_account_id      uuid NOT NULL,
        destination_account_id uuid NOT NULL,
        destination_owner_id   uuid NOT NULL,
        amount                 bigint NOT NULL CHECK (amount > 0),
        currency               char(3) NOT NULL,
        description            text NOT NULL,
        status                 text NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'cancelled')),
        failure_code           text,
        step                   text NOT NULL CHECK (step IN ('accepted', 'hold_placed', 'checked', 'captured', 'compensating', 'compensated', 'needs_attention')),
        step_times             jsonb NOT NULL,
        attempts               integer NOT NULL DEFAULT 0,
        deadline_at            timestamptz NOT NULL,
        hold_expires_at        timestamptz,
        cancel_requested       boolean NOT NULL DEFAULT false,
        created_at             timestamptz NOT NULL,
        completed_at           timestamptz,
        version                integer NOT NULL DEFAULT 1,
        CHECK (source_account_id <> destination_account_id)
      )`);
    // Statements of either account page newest first by (created_at, id).
    this.addSql('CREATE INDEX payments_by_source ON payments (source_account_id, created_at DESC, id DESC)');
    this.addSql('CREATE INDEX payments_by_destination ON payments (destination_account_id, created_at DESC, id DESC)');
    // What the sweeper scans: sagas still running, by deadline; rows leave the index when they end.
    this.addSql("CREATE INDEX payments_due ON payments (deadline_at) WHERE step NOT IN ('captured', 'compensated', 'needs_attention')");
    this.addSql(`
      CREATE TABLE idempotency_records (
        user_id         uuid NOT NULL,
        scope           text NOT NULL CHECK (scope IN ('payment', 'deposit')),
        key             text NOT NULL,
        fingerprint     text NOT NULL,
        resource_id     uuid NOT NULL,
        response_status integer,
        response_body   jsonb,
        locked_until    timestamptz NOT NULL,
        created_at      timestamptz NOT NULL,
        PRIMARY KEY (user_id, scope, key)
      )`);
    this.addSql('CREATE INDEX idempotency_records_age ON idempotency_records (created_at)');
    this.addSql(`
      CREATE TABLE deposits (
        id           uuid PRIMARY KEY,
        operator_id  uuid NOT NULL,
        account_id   uuid NOT NULL,
        owner_id     uuid NOT NULL,
        amount       bigint NOT NULL CHECK (amount > 0),
        currency     char(3) NOT NULL,
        reference    text NOT NULL,
        status       text NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
        failure_code text,
        created_at   timestamptz NOT NULL
      )`);
    this.addSql("CREATE INDEX deposits_pending ON deposits (created_at) WHERE status = 'pending'");
    // One row per owner, currency and UTC day: the check step reserves with a conditional increment.
    this.addSql(`
      CREATE TABLE daily_spend (
        owner_id uuid NOT NULL,
        currency char(3) NOT NULL,
        day      date NOT NULL,
        total    bigint NOT NULL CHECK (total >= 0),
        PRIMARY KEY (owner_id, currency, day)
      )`);
    // user-service's accounts as payments need them, kept from account.* events.
    this.addSql(`
      CREATE TABLE payment_accounts (
        id            uuid PRIMARY KEY,
        owner_id      uuid NOT NULL,
        currency      char(3) NOT NULL,
        state         text NOT NULL CHECK (state IN ('active', 'frozen', 'closed')),
        state_version bigint NOT NULL DEFAULT 0
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE payment_accounts, daily_spend, deposits, idempotency_records, payments');
  }
}

/** Parked sagas, for the metrics and the operator's lists: a scrape must not scan every payment ever made. */
class PaymentsParkedIndex extends Migration {
  override async up(): Promise<void> {
    this.addSql("CREATE INDEX payments_parked ON payments (created_at) WHERE step = 'needs_attention'");
  }

  override async down(): Promise<void> {
    this.addSql('DROP INDEX payments_parked');
  }
}

export const paymentsMigrations: readonly MigrationObject[] = [
  ...platformMigrations,
  { name: '0001_payments_schema', class: PaymentsSchema },
  { name: '0002_payments_parked_index', class: PaymentsParkedIndex },
];
