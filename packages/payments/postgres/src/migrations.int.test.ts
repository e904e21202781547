import { newId } from '@bank/kernel';
import { migrationsReversibleContract } from '@bank/testkit';
import { paymentsMigrations } from './migrations';

describe('payments migrations', () => {
  migrationsReversibleContract('payments', paymentsMigrations, async (db) => {
    const [payer, payee, from, to, payment] = [newId(), newId(), newId(), newId(), newId()];
    await db.transaction(async (c) => {
      await c.query(
        `INSERT INTO payments (id, initiator_id, source_account_id, destination_account_id, destination_owner_id, amount, currency, description, status, step, step_times, deadline_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 1500, 'USD', 'rent', 'pending', 'hold_placed', '{}', now() + interval '1 minute', now())`,
        [payment, payer, from, to, payee],
      );
      await c.query("INSERT INTO idempotency_records (user_id, scope, key, fingerprint, resource_id, locked_until, created_at) VALUES ($1, 'payment', 'k1', 'f', $2, now(), now())", [payer, payment]);
      await c.query("INSERT INTO deposits (id, operator_id, account_id, owner_id, amount, currency, reference, status, created_at) VALUES ($1, $2, $3, $4, 9000, 'USD', 'cash', 'completed', now())", [newId(), newId(), from, payer]);
      await c.query("INSERT INTO daily_spend (owner_id, currency, day, total) VALUES ($1, 'USD', current_date, 1500)", [payer]);
      await c.query("INSERT INTO payment_accounts (id, owner_id, currency, state) VALUES ($1, $2, 'USD', 'active'), ($3, $4, 'USD', 'frozen')", [from, payer, to, payee]);
    });
  });
});
