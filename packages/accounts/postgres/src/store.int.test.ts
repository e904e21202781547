import { Database } from '@bank/platform';
import { accountStoreContract, captureLogger, createTestDatabase } from '@bank/testkit';
import { ACCOUNT_ENTITIES } from './entities';
import { accountsMigrations } from './migrations';
import { PostgresAccountStore } from './store';

const { logger } = captureLogger('accounts-store-test');
let db: Database;
let drop: () => Promise<void>;

accountStoreContract(
  'PostgreSQL',
  async () => {
    const t = await createTestDatabase('accounts_contract');
    drop = t.drop;
    db = await Database.open({ clientUrl: t.url, migrations: accountsMigrations, entities: [...ACCOUNT_ENTITIES], logger });
    await db.migrate();
    return {
      store: new PostgresAccountStore(db),
      events: async () => (await db.sql.query<{ type: string; aggregate_id: string }>('SELECT type, aggregate_id FROM outbox ORDER BY position')).rows.map((r) => `${r.type}:${r.aggregate_id}`),
    };
  },
  async () => {
    await db.close();
    await drop();
  },
);
