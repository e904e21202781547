import { Database } from '@bank/platform';
import { captureLogger, createTestDatabase, ledgerStoreContract } from '@bank/testkit';
import { ledgerMigrations } from './migrations';
import { PostgresLedgerStore } from './store';

const { logger } = captureLogger('ledger-store-test');
let db: Database;
let drop: () => Promise<void>;

ledgerStoreContract(
  'PostgreSQL',
  async () => {
    const t = await createTestDatabase('ledger_contract');
    drop = t.drop;
    db = await Database.open({ clientUrl: t.url, migrations: ledgerMigrations, logger });
    await db.migrate();
    return {
      store: new PostgresLedgerStore(db),
      reset: async () => {
        await db.transaction((c) => c.query('TRUNCATE ledger_accounts, transfers, pending_resolutions, open_holds, entries, outbox'));
      },
    };
  },
  async () => {
    await db.close();
    await drop();
  },
);
