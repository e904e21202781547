import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';

/** The outbox, inbox and dead-letter tables that every service database holds. */
class PlatformMessaging extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE outbox (
        position     bigserial PRIMARY KEY,
        id           uuid NOT NULL UNIQUE,
        type         text NOT NULL,
        aggregate_id text NOT NULL,
        occurred_at  timestamptz NOT NULL,
        traceparent  text NOT NULL DEFAULT '',
        payload      jsonb NOT NULL,
        published_at timestamptz
      )`);
    // The relay scans only what is still to send; the partial index stays small.
    this.addSql('CREATE INDEX outbox_unpublished ON outbox (position) WHERE published_at IS NULL');
    this.addSql(`
      CREATE TABLE inbox (
        consumer     text NOT NULL,
        event_id     uuid NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      )`);
    this.addSql(`
      CREATE TABLE dead_letter (
        id          uuid PRIMARY KEY,
        consumer    text NOT NULL,
        event_id    uuid NOT NULL,
        event       jsonb NOT NULL,
        error       text NOT NULL,
        attempts    integer NOT NULL,
        failed_at   timestamptz NOT NULL DEFAULT now(),
        requeued_at timestamptz
      )`);
    this.addSql('CREATE INDEX dead_letter_open ON dead_letter (failed_at) WHERE requeued_at IS NULL');
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE dead_letter');
    this.addSql('DROP TABLE inbox');
    this.addSql('DROP TABLE outbox');
  }
}

/**
 * The outbox payload is written once and read back whole by the relay, never queried inside:
 * `json` stores the text as it is, where `jsonb` parses it (half the insert cost for a ledger
 * batch row of a few thousand events).
 */
class OutboxPayloadJson extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json');
  }

  override async down(): Promise<void> {
    this.addSql('ALTER TABLE outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb');
  }
}

/**
 * What operators did to this service's data with bank-cli: who, when, the command, its arguments
 * (secrets redacted) and its result. Rows are only ever added.
 */
class OperatorAudit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE operator_audit (
        id        uuid PRIMARY KEY,
        at        timestamptz NOT NULL,
        os_user   text NOT NULL,
        reason    text NOT NULL,
        command   text NOT NULL,
        arguments jsonb NOT NULL,
        ok        boolean NOT NULL,
        result    jsonb NOT NULL
      )`);
    this.addSql('CREATE INDEX operator_audit_at ON operator_audit (at)');
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE operator_audit');
  }
}

/**
 * A dead letter an operator gave up on (bank-cli dead-letters drop): kept, with why, but no
 * longer open. The open index then leaves dropped rows out too.
 */
class DeadLetterDropped extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE dead_letter ADD COLUMN dropped_at timestamptz, ADD COLUMN drop_reason text');
    this.addSql('DROP INDEX dead_letter_open');
    this.addSql('CREATE INDEX dead_letter_open ON dead_letter (failed_at) WHERE requeued_at IS NULL AND dropped_at IS NULL');
  }

  override async down(): Promise<void> {
    this.addSql('DROP INDEX dead_letter_open');
    this.addSql('ALTER TABLE dead_letter DROP COLUMN dropped_at, DROP COLUMN drop_reason');
    this.addSql('CREATE INDEX dead_letter_open ON dead_letter (failed_at) WHERE requeued_at IS NULL');
  }
}

/** Every service lists these first in its migrations. */
export const platformMigrations: readonly MigrationObject[] = [
  { name: '0000_platform_messaging', class: PlatformMessaging },
  { name: '0000_platform_outbox_payload_json', class: OutboxPayloadJson },
  { name: '0000_platform_operator_audit', class: OperatorAudit },
  { name: '0000_platform_messaging_dropped', class: DeadLetterDropped },
];
