import { newId } from '@bank/kernel';
import { PAYMENT_ENTITIES, PostgresAccountDirectory, paymentsMigrations } from '@bank/payments-postgres';
import type { Database } from '@bank/platform';
import { captureLogger, openTestDatabase, expectEffectCommitsWithInbox, testEnvelope } from '@bank/testkit';
import { paymentEventHandlers } from './container';

// payment-service's account projection goes through payments-core's accountProjection, on a
// directory built on the consumer's transaction: the projection's row and the event's inbox row commit or roll back together.

const { logger } = captureLogger('payment-consumer');
let db: Database;
let close: () => Promise<void>;
const kicked: string[] = [];

beforeAll(async () => {
  ({ db, close } = await openTestDatabase('payment_consumer', { migrations: paymentsMigrations, entities: [...PAYMENT_ENTITIES], logger }));
});

afterAll(async () => {
  await close?.();
});

const handlers = () => paymentEventHandlers({ onLedgerTransfer: async () => undefined, kick: (id) => void kicked.push(id) }, (tx) => new PostgresAccountDirectory(tx, async () => undefined), () => undefined);
const accountRows = async (id: string, state: string) => (await db.sql.query('SELECT 1 FROM payment_accounts WHERE id = $1 AND state = $2', [id, state])).rowCount ?? 0;

describe("payment-service's consumer", () => {
  it("commits account.opened's projection with its inbox row: a failure after the write leaves neither", async () => {
    const accountId = newId();
    await expectEffectCommitsWithInbox({
      db,
      consumer: 'payment-service',
      handlers: handlers(),
      envelope: testEnvelope('account.opened', accountId, { accountId, ownerId: newId(), currency: 'USD' }),
      effect: () => accountRows(accountId, 'active'),
    });
  });

  it("commits account.frozen's state with its inbox row", async () => {
    const accountId = newId();
    await new PostgresAccountDirectory(db, async () => undefined).recordOpened({ id: accountId, ownerId: newId(), currency: 'USD', state: 'active' });
    await expectEffectCommitsWithInbox({
      db,
      consumer: 'payment-service',
      handlers: handlers(),
      envelope: testEnvelope('account.frozen', accountId, { accountId, reason: 'fraud check' }, 2),
      effect: () => accountRows(accountId, 'frozen'),
    });
  });

  it('starts the saga of payment.requested only once the inbox row has committed', async () => {
    const paymentId = newId();
    await expectEffectCommitsWithInbox({
      db,
      consumer: 'payment-service',
      handlers: handlers(),
      envelope: testEnvelope('payment.requested', paymentId, { paymentId }),
      effect: async () => kicked.filter((k) => k === paymentId).length,
    });
  });
});
