import { newId } from '@bank/kernel';
import { migrationsReversibleContract } from '@bank/testkit';
import { notificationMigrations } from './migrations';

describe('notification migrations', () => {
  migrationsReversibleContract('notification', notificationMigrations, async (db) => {
    const user = newId();
    await db.transaction(async (c) => {
      await c.query("INSERT INTO recipients (user_id, email, full_name) VALUES ($1, 'ada@example.com', 'Ada')", [user]);
      await c.query('INSERT INTO account_owners (account_id, owner_id) VALUES ($1, $2)', [newId(), user]);
      await c.query("INSERT INTO deliveries (id, event_id, user_id, template, email, data, status) VALUES ($1, $2, $3, 'welcome', 'ada@example.com', '{}', 'sent')", [newId(), newId(), user]);
    });
  });
});
