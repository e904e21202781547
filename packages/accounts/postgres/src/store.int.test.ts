import type { Database } from '@bank/platform';
import { accountStoreContract, captureLogger, openTestDatabase } from '@bank/testkit';
import { ACCOUNT_ENTITIES } from './entities';
import { accountsMigrations } from './migrations';
import { PostgresAccountStore } from './store';

const { logger } = captureLogger('accounts-store-test');
let db: Database;
let close: () => Promise<void>;

accountStoreContract(
  'PostgreSQL',
  async () => {
    ({ db, close } = await openTestDatabase('accounts_contract', { migrations: accountsMigrations, entities: [...ACCOUNT_ENTITIES], logger }));
    return {
      store: new PostgresAccountStore(db),
      events: async () => (await db.sql.query<{ type: string; aggregate_id: string }>('SELECT type, aggregate_id FROM outbox ORDER BY position')).rows.map((r) => `${r.type}:${r.aggregate_id}`),
    };
  },
  async () => {
    await close?.();
  },
);
