import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { platformMigrations } from '@bank/platform';

/** Recipients (kept from user.registered), account owners (from account.opened) and one row per email. */
class NotificationsSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql('CREATE TABLE recipients (user_id uuid PRIMARY KEY, email text NOT NULL, full_name text NOT NULL)');
    this.addSql('CREATE TABLE account_owners (account_id uuid PRIMARY KEY, owner_id uuid NOT NULL)');
    // The primary key is the "at most one email per event, recipient and template" rule.
    this.addSql(`
      CREATE TABLE deliveries (
        id          uuid PRIMARY KEY,
        event_id    uuid NOT NULL,
        user_id     uuid NOT NULL,
        template    text NOT NULL,
        email       text NOT NULL,
        data        jsonb NOT NULL,
        status      text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'dead')),
        attempts    integer NOT NULL DEFAULT 0,
        error       text,
        claimed_at  timestamptz,
        enqueued_at timestamptz,
        message_id  text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        sent_at     timestamptz,
        UNIQUE (event_id, user_id, template)
      )`);
    this.addSql("CREATE INDEX deliveries_to_enqueue ON deliveries (created_at) WHERE status = 'queued'");
    this.addSql('CREATE INDEX deliveries_by_user ON deliveries (user_id, created_at DESC, id DESC)');
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE deliveries, account_owners, recipients');
  }
}

/** The trace an email belongs to (its event's), so that sending it joins that trace. */
class DeliveryTraceparent extends Migration {
  override async up(): Promise<void> {
    this.addSql("ALTER TABLE deliveries ADD COLUMN traceparent text NOT NULL DEFAULT ''");
  }

  override async down(): Promise<void> {
    this.addSql('ALTER TABLE deliveries DROP COLUMN traceparent');
  }
}

export const notificationMigrations: readonly MigrationObject[] = [
  ...platformMigrations,
  { name: '0001_notifications_schema', class: NotificationsSchema },
  { name: '0002_delivery_traceparent', class: DeliveryTraceparent },
];
