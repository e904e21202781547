import { newId } from '@bank/kernel';
import { Database, appendToOutbox } from '@bank/platform';
import { captureLogger, createTestDatabase, migrationsReversibleContract } from '@bank/testkit';
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

describe('accounts migration 0003', () => {
  it('strips the caller prefix the gateway used to put on opening keys, and leaves other keys alone', async () => {
    const { logger } = captureLogger('accounts-migration-0003');
    const t = await createTestDatabase('accounts_open_keys');
    const [owner, prefixed, plain, keyless] = [newId(), newId(), newId(), newId()];
    const early = await Database.open({ clientUrl: t.url, migrations: accountsMigrations.filter((m) => m.name !== '0003_accounts_open_keys_as_sent'), logger });
    try {
      await early.migrate();
      const insert = "INSERT INTO bank_accounts (id, owner_id, currency, status, open_key, version, created_at) VALUES ($1, $2, 'USD', 'active', $3, 1, now())";
      await early.sql.query(insert, [prefixed, owner, `${owner}:retry-me`]);
      await early.sql.query(insert, [plain, owner, 'other:key']);
      await early.sql.query(insert, [keyless, owner, null]);
    } finally {
      await early.close();
    }
    const db = await Database.open({ clientUrl: t.url, migrations: accountsMigrations, logger });
    try {
      expect(await db.migrate()).toEqual(['0003_accounts_open_keys_as_sent']);
      const { rows } = await db.sql.query<{ id: string; open_key: string | null }>('SELECT id, open_key FROM bank_accounts');
      expect(Object.fromEntries(rows.map((r) => [r.id, r.open_key]))).toEqual({ [prefixed]: 'retry-me', [plain]: 'other:key', [keyless]: null });
    } finally {
      await db.close();
      await t.drop();
    }
  });
});
