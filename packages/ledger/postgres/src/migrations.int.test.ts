import { ManualClock, newId } from '@bank/kernel';
import { AccountFlags, Ledger, TransferFlags, systemAccountId } from '@bank/ledger-core';
import { Database, appendToOutbox, platformMigrations, type NewEvent } from '@bank/platform';
import { captureLogger, createTestDatabase, migrationsReversibleContract, transferRequest } from '@bank/testkit';
import { ledgerMigrations } from './migrations';
import { PostgresLedgerStore } from './store';

const { logger } = captureLogger('ledger-migrations');

/** Accounts, a posted deposit, an open hold and its entries, written by the real store. */
async function populateLedger(db: Database): Promise<void> {
  const ledger = new Ledger(new PostgresLedgerStore(db), new ManualClock(), { windowMs: 0, maxTransfers: 100, maxInFlight: 1, maxQueuedTransfers: 1_000, defaultTimeoutSeconds: 60 });
  await ledger.ensureSystemAccounts(['USD']);
  const [alice, bob] = [newId(), newId()];
  await ledger.openCustomerAccount(alice, 'USD', newId());
  // Credits plus an overdraft limit at the bigint maximum: the older CHECK overflows on this row.
  await ledger.createAccounts([{ id: bob, currency: 'USD', kind: 'customer', flags: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, overdraftLimit: 2n ** 63n - 1n, ownerId: newId() }]);
  const results = await ledger.createTransfers([
    transferRequest({ debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: alice, amount: 10_000n }),
    transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 100n }),
    transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 2_500n, flags: TransferFlags.PENDING, timeoutSeconds: 600 }),
  ]);
  expect(results).toEqual(['ok', 'ok', 'ok']);
}

describe('ledger migrations', () => {
  migrationsReversibleContract('ledger', ledgerMigrations, populateLedger);

  it('run forward on an empty database, and a second run applies nothing', async () => {
    const t = await createTestDatabase('ledger_migrate_empty');
    const db = await Database.open({ clientUrl: t.url, migrations: ledgerMigrations, logger });
    try {
      expect(await db.migrate()).toEqual(ledgerMigrations.map((m) => m.name));
      expect(await db.migrate()).toEqual([]);
    } finally {
      await db.close();
      await t.drop();
    }
  });

  it('run forward on a database populated by the earlier migrations, keeping its rows', async () => {
    const t = await createTestDatabase('ledger_migrate_populated');
    const early = await Database.open({ clientUrl: t.url, migrations: platformMigrations, logger });
    try {
      await early.migrate();
      const opened: NewEvent<'account.opened'> = { type: 'account.opened', aggregateId: 'a1', payload: { accountId: 'a1', ownerId: 'o1', currency: 'USD' } };
      await early.transaction((c) => appendToOutbox(c, [opened]));
    } finally {
      await early.close();
    }
    const db = await Database.open({ clientUrl: t.url, migrations: ledgerMigrations, logger });
    try {
      expect(await db.migrate()).toEqual(['0001_ledger_schema', '0002_ledger_account_version', '0003_ledger_checks_without_overflow', '0004_ledger_writer_lease']);
      const { rows } = await db.transaction((c) => c.query<{ n: string }>("SELECT count(*) AS n FROM outbox WHERE type = 'account.opened'"));
      expect(rows[0]?.n).toBe('1');
      const tables = await db.transaction((c) => c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"));
      expect(tables.rows.map((r) => r.t)).toEqual(['dead_letter', 'entries', 'inbox', 'ledger_accounts', 'ledger_lease', 'open_holds', 'operator_audit', 'outbox', 'pending_resolutions', 'schema_migrations', 'transfers']);
    } finally {
      await db.close();
      await t.drop();
    }
  });

  it('add account versions to a ledger that already holds accounts and money', async () => {
    const t = await createTestDatabase('ledger_migrate_version');
    const early = await Database.open({ clientUrl: t.url, migrations: ledgerMigrations.filter((m) => m.name !== '0002_ledger_account_version'), logger });
    try {
      await early.migrate();
      await early.transaction((c) =>
        c.query(
          `INSERT INTO ledger_accounts (id, currency, kind, flags, credits_posted, created_at)
           VALUES ('00000000-0000-7000-8000-000000000001', 'USD', 'customer', 1, 500, now())`,
        ),
      );
    } finally {
      await early.close();
    }
    const db = await Database.open({ clientUrl: t.url, migrations: ledgerMigrations, logger });
    try {
      expect(await db.migrate()).toEqual(['0002_ledger_account_version']);
      const { rows } = await db.transaction((c) => c.query<{ credits_posted: string; version: string }>('SELECT credits_posted, version FROM ledger_accounts'));
      expect(rows).toEqual([{ credits_posted: '500', version: '0' }]);
      // A writer that knows nothing of versions still moves the version.
      await db.transaction((c) => c.query('UPDATE ledger_accounts SET credits_posted = 600'));
      const after = await db.transaction((c) => c.query<{ version: string }>('SELECT version FROM ledger_accounts'));
      expect(after.rows[0]?.version).not.toBe('0');
    } finally {
      await db.close();
      await t.drop();
    }
  });
});
