import type { MigrationObject } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { platformMigrations } from '@bank/platform';

/**
 * The ledger schema. Balances live on the account row (one row lock per account per batch);
 * transfers and entries are append-only. CHECK constraints repeat the core's rules so that even
 * a bug in the application cannot store a negative or flag-breaking balance.
 */
/** The SQLSTATE of a write refused by the fence: its process no longer holds the writer's lease. */
export const LEDGER_FENCED_SQLSTATE = 'BKF01';

class LedgerSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE ledger_accounts (
        id              uuid PRIMARY KEY,
        currency        char(3) NOT NULL,
        kind            text NOT NULL CHECK (kind IN ('customer', 'settlement', 'fees', 'suspense')),
        state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'frozen', 'closed')),
        -- The event sequence of the last state change applied: an older event arriving late is ignored.
        state_version   bigint NOT NULL DEFAULT 0,
        flags           integer NOT NULL CHECK (flags BETWEEN 0 AND 2),
        overdraft_limit bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
        debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
        credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
        debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
        credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
        owner_id        uuid,
        created_at      timestamptz NOT NULL,
        CONSTRAINT debits_within_credits CHECK (flags & 1 = 0 OR debits_posted + debits_pending <= credits_posted + overdraft_limit),
        CONSTRAINT credits_within_debits CHECK (flags & 2 = 0 OR credits_posted + credits_pending <= debits_posted)
      )`);
    // No foreign keys on the append-only tables: every batch locks and checks the accounts it
    // touches, and per-row FK probes would cost the hot path a lookup per transfer.
    this.addSql(`
      CREATE TABLE transfers (
        id                uuid PRIMARY KEY,
        debit_account_id  uuid NOT NULL,
        credit_account_id uuid NOT NULL,
        amount            bigint NOT NULL CHECK (amount >= 0),
        currency          char(3) NOT NULL,
        flags             integer NOT NULL,
        pending_id        uuid,
        timeout_seconds   integer NOT NULL,
        expires_at        timestamptz,
        reference         text NOT NULL,
        description       text NOT NULL,
        created_at        timestamptz NOT NULL
      )`);
    // The primary key is the "at most one resolution per hold" invariant, enforced by the database.
    this.addSql(`
      CREATE TABLE pending_resolutions (
        pending_id  uuid PRIMARY KEY,
        kind        text NOT NULL CHECK (kind IN ('posted', 'voided', 'expired')),
        transfer_id uuid,
        amount      bigint NOT NULL CHECK (amount >= 0),
        resolved_at timestamptz NOT NULL
      )`);
    // The holds still open, by expiry: what the sweeper scans. Rows leave when a hold resolves.
    this.addSql('CREATE TABLE open_holds (pending_id uuid PRIMARY KEY, expires_at timestamptz NOT NULL)');
    this.addSql('CREATE INDEX open_holds_expiry ON open_holds (expires_at)');
    this.addSql('CREATE SEQUENCE entry_sequence AS bigint');
    this.addSql(`
      CREATE TABLE entries (
        account_id            uuid NOT NULL,
        sequence              bigint NOT NULL DEFAULT nextval('entry_sequence'),
        transfer_id           uuid NOT NULL,
        line_transfer_id      uuid NOT NULL,
        kind                  text NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expired')),
        side                  text NOT NULL CHECK (side IN ('debit', 'credit')),
        posted_delta          bigint NOT NULL,
        pending_delta         bigint NOT NULL,
        debits_posted_after   bigint NOT NULL,
        credits_posted_after  bigint NOT NULL,
        debits_pending_after  bigint NOT NULL,
        credits_pending_after bigint NOT NULL,
        created_at            timestamptz NOT NULL,
        PRIMARY KEY (account_id, sequence)
      )`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE entries, open_holds, pending_resolutions, transfers, ledger_accounts');
    this.addSql('DROP SEQUENCE entry_sequence');
  }
}

/**
 * Optimistic batches: `version` changes with every write of an account row, balances and state
 * alike (to a random value, never a count), so a batch can write an account only if it still
 * carries the version the batch was decided on. The check function turns "fewer rows updated than
 * read" into a serialization failure inside the batch's single statement, which rolls the whole
 * statement back and makes the store replay the batch.
 */
class LedgerAccountVersion extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE ledger_accounts ADD COLUMN version bigint NOT NULL DEFAULT 0');
    this.addSql(`
      CREATE FUNCTION ledger_expect_updated(expected integer, updated bigint) RETURNS integer
      LANGUAGE plpgsql AS $$
      BEGIN
        IF updated <> expected THEN
          RAISE EXCEPTION 'ledger batch read % accounts that changed before it wrote', expected - updated
            USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN expected;
      END $$`);
    // A writer that knows nothing of versions (an instance still on older code during a rolling
    // upgrade, an operator's manual fix) still moves the version, so no batch decided before it
    // can write over its change. The condition keeps the function off the ledger's own writes.
    this.addSql(`
      CREATE FUNCTION ledger_account_new_version() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        NEW.version := floor(random() * 4611686018427387903)::bigint;
        RETURN NEW;
      END $$`);
    this.addSql(`
      CREATE TRIGGER ledger_account_version BEFORE UPDATE ON ledger_accounts
      FOR EACH ROW WHEN (NEW.version = OLD.version) EXECUTE FUNCTION ledger_account_new_version()`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TRIGGER ledger_account_version ON ledger_accounts');
    this.addSql('DROP FUNCTION ledger_account_new_version()');
    this.addSql('DROP FUNCTION ledger_expect_updated(integer, bigint)');
    this.addSql('ALTER TABLE ledger_accounts DROP COLUMN version');
  }
}

/**
 * The balance CHECKs summed bigints, so an account whose credits plus overdraft limit passed
 * 2^63 − 1 (an overdraft limit near the maximum is valid) made every write to it fail with
 * "bigint out of range" instead of being checked. The sums are taken in numeric, which cannot
 * overflow; the rule itself is unchanged.
 */
class LedgerChecksWithoutOverflow extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      ALTER TABLE ledger_accounts
        DROP CONSTRAINT debits_within_credits,
        DROP CONSTRAINT credits_within_debits,
        ADD CONSTRAINT debits_within_credits CHECK (flags & 1 = 0 OR debits_posted::numeric + debits_pending <= credits_posted::numeric + overdraft_limit),
        ADD CONSTRAINT credits_within_debits CHECK (flags & 2 = 0 OR credits_posted::numeric + credits_pending <= debits_posted)`);
  }

  // The older CHECKs come back NOT VALID, so that the revert itself cannot fail on rows the numeric
  // rule admitted (credits plus an overdraft limit near 2^63 − 1 overflow the older sums). They
  // still apply to every later write, so such an account refuses writes again, as before 0003.
  override async down(): Promise<void> {
    this.addSql(`
      ALTER TABLE ledger_accounts
        DROP CONSTRAINT debits_within_credits,
        DROP CONSTRAINT credits_within_debits,
        ADD CONSTRAINT debits_within_credits CHECK (flags & 1 = 0 OR debits_posted + debits_pending <= credits_posted + overdraft_limit) NOT VALID,
        ADD CONSTRAINT credits_within_debits CHECK (flags & 2 = 0 OR credits_posted + credits_pending <= debits_posted) NOT VALID`);
  }
}

/**
 * The writer's lease: one row, held by one transaction-service process at a time, with a fencing
 * token that grows at each takeover. Every ledger write calls ledger_fence with the token its
 * process holds, under a FOR KEY SHARE lock of the row until it commits. A takeover first locks
 * the row FOR UPDATE, which waits for the writes in flight, then raises the token, after which
 * every write of the former holder fails: two writers cannot interleave. The holder's renewals
 * (an UPDATE of expires_at, a non-key column) do not conflict with its own writes' locks, so they
 * never queue behind them. A NULL token writes unfenced (the ledger's tests and tools without a
 * lease; transaction-service never passes one).
 */
class LedgerWriterLease extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE ledger_lease (
        id         smallint PRIMARY KEY CHECK (id = 1),
        holder     text NOT NULL,
        token      bigint NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    this.addSql("INSERT INTO ledger_lease (id, holder, token, expires_at) VALUES (1, '', 0, 'epoch')");
    this.addSql(`
      CREATE FUNCTION ledger_fence(held bigint) RETURNS integer
      LANGUAGE plpgsql AS $$
      BEGIN
        IF held IS NULL THEN
          RETURN 0;
        END IF;
        PERFORM 1 FROM ledger_lease WHERE id = 1 AND token = held FOR KEY SHARE;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'ledger write fenced: the lease token % is no longer current', held USING ERRCODE = '${LEDGER_FENCED_SQLSTATE}';
        END IF;
        RETURN 0;
      END $$`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP FUNCTION ledger_fence(bigint)');
    this.addSql('DROP TABLE ledger_lease');
  }
}

export const ledgerMigrations: readonly MigrationObject[] = [
  ...platformMigrations,
  { name: '0001_ledger_schema', class: LedgerSchema },
  { name: '0002_ledger_account_version', class: LedgerAccountVersion },
  { name: '0003_ledger_checks_without_overflow', class: LedgerChecksWithoutOverflow },
  { name: '0004_ledger_writer_lease', class: LedgerWriterLease },
];
