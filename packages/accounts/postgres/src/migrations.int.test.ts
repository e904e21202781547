import { newId } from '@bank/kernel';
import { appendToOutbox } from '@bank/platform';
import { migrationsReversibleContract } from '@bank/testkit';
import { accountsMigrations } from './migrations';

describe('accounts migrations', () => {
  migrationsReversibleContract('accounts', accountsMigrations, async (db) => {
    const [owner, account] = [newId(), newId()];
    await db.transaction(async (c) => {
      await c.query("INSERT INTO profiles (id, email, full_name, created_at) VALUES ($1, 'ada@example.com', 'Ada', now())", [owner]);
      await c.query("INSERT INTO bank_accounts (id, owner_id, currency, status, open_key, version, created_at) VALUES ($1, $2, 'USD', 'active', 'k1', 1, now())", [account, owner]);
      await appendToOutbox(c, [{ type: 'account.opened', aggregateId: account, payload: { accountId: account, ownerId: owner, currency: 'USD' } }]);
      await c.query("INSERT INTO inbox (consumer, event_id) VALUES ('user', $1)", [newId()]);
    });
  });
});
