import { listen, type Database } from '@bank/platform';
import type { Payment } from '@bank/payments-core';
import { accountDirectoryContract, captureLogger, openTestDatabase, paymentFixture, paymentStoreContract, waitFor } from '@bank/testkit';
import { PostgresAccountDirectory } from './directory';
import { PAYMENT_ENTITIES } from './entities';
import { paymentsMigrations } from './migrations';
import { PAYMENT_SETTLED_CHANNEL, PostgresPaymentStore } from './store';

const { logger } = captureLogger('payments-store-test');
let db: Database;
let close: () => Promise<void>;

paymentStoreContract(
  'PostgreSQL',
  async () => {
    ({ db, close } = await openTestDatabase('payments_store', { migrations: paymentsMigrations, entities: [...PAYMENT_ENTITIES], logger }));
    return new PostgresPaymentStore(db);
  },
  async () => {
    await close?.();
  },
);

let directoryDb: Awaited<ReturnType<typeof openTestDatabase>> | undefined;

accountDirectoryContract(
  'PostgreSQL',
  async (source) => {
    directoryDb = await openTestDatabase('payments_directory', { migrations: paymentsMigrations, entities: [...PAYMENT_ENTITIES], logger });
    return new PostgresAccountDirectory(directoryDb.db, source);
  },
  async () => {
    await directoryDb?.close();
  },
);

describe('PostgresPaymentStore: what a transition writes besides the payment', () => {
  let t: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    t = await openTestDatabase('payments_store_events', { migrations: paymentsMigrations, entities: [...PAYMENT_ENTITIES], logger });
  });
  afterAll(async () => {
    await t.close();
  });

  const outboxTypes = async (aggregateId: string) =>
    (await t.db.sql.query<{ type: string; payload: { status: string; amount: string } }>('SELECT type, payload FROM outbox WHERE aggregate_id = $1 ORDER BY position', [aggregateId])).rows;

  it('commits a settlement with its event and its notification, and a lost race with neither', async () => {
    const store = new PostgresPaymentStore(t.db);
    const notified: string[] = [];
    const stop = listen(t.url, PAYMENT_SETTLED_CHANNEL, (id) => void notified.push(id), logger);
    try {
      await waitFor(async () => {
        // The LISTEN connection is up once a notification sent now reaches it.
        await t.db.sql.query('SELECT pg_notify($1, $2)', [PAYMENT_SETTLED_CHANNEL, 'probe']);
        return notified.includes('probe');
      });
      const p = paymentFixture({ step: 'checked' });
      await store.createPayment(p, { userId: p.initiatorId, scope: 'payment', key: `k-${p.id}`, fingerprint: 'f', resourceId: p.id, responseStatus: null, responseBody: null, lockedUntil: new Date(), createdAt: new Date() });
      const v1 = (await store.getPayment(p.id)) as Payment;
      const captured: Payment = { ...v1, step: 'captured', status: 'completed', completedAt: new Date(), stepTimes: { ...v1.stepTimes, captured: new Date().toISOString() } };
      // A stale version saves nothing, writes no event and wakes nobody.
      expect(await store.savePayment({ ...v1, version: 7 }, captured, 10_000n)).toBe('conflict');
      expect((await outboxTypes(p.id)).map((r) => r.type)).toEqual(['payment.requested']);
      expect(await store.savePayment(v1, captured, 10_000n)).toBe('saved');
      expect(await outboxTypes(p.id)).toEqual([expect.objectContaining({ type: 'payment.requested' }), { type: 'payment.completed', payload: expect.objectContaining({ status: 'completed', amount: '1000' }) }]);
      await waitFor(async () => notified.includes(p.id));
      expect(await store.getPayment(p.id)).toMatchObject({ step: 'captured', status: 'completed', version: 2 });
      expect(notified.filter((id) => id === p.id)).toHaveLength(1);
    } finally {
      await stop();
    }
  });
});
