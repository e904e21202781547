import { newId, systemClock } from '@bank/kernel';
import type { Database } from '@bank/platform';
import { captureLogger, openTestDatabase, expectEffectCommitsWithInbox, testEnvelope } from '@bank/testkit';
import { NOTIFICATION_ENTITIES } from './entities';
import { notificationMigrations } from './migrations';
import { notificationEventHandlers } from './notifications';

// notification-service's consumer writes its recipients, owners and queued emails in the
// consumer's transaction, and wakes the dispatcher only after that transaction has committed.

const { logger } = captureLogger('notification-consumer');
let db: Database;
let close: () => Promise<void>;
let wakes = 0;

beforeAll(async () => {
  ({ db, close } = await openTestDatabase('notification_consumer', { migrations: notificationMigrations, entities: NOTIFICATION_ENTITIES, logger }));
});

afterAll(async () => {
  await close?.();
});

const handlers = notificationEventHandlers(systemClock, () => void wakes++);
const count = async (sql: string, id: string) => (await db.sql.query(sql, [id])).rowCount ?? 0;

describe("notification-service's consumer", () => {
  it("commits user.registered's recipient and welcome email with its inbox row, and wakes the dispatcher after", async () => {
    const userId = newId();
    const wakesBefore = wakes;
    await expectEffectCommitsWithInbox({
      db,
      consumer: 'notification-service',
      handlers,
      envelope: testEnvelope('user.registered', userId, { userId, email: 'erin@example.com', fullName: 'Erin' }),
      effect: async () => (await count('SELECT 1 FROM recipients WHERE user_id = $1', userId)) + (await count("SELECT 1 FROM deliveries WHERE user_id = $1 AND template = 'welcome'", userId)),
    });
    expect(wakes - wakesBefore).toBe(1);
  });

  it("commits account.opened's owner with its inbox row", async () => {
    const accountId = newId();
    await expectEffectCommitsWithInbox({
      db,
      consumer: 'notification-service',
      handlers,
      envelope: testEnvelope('account.opened', accountId, { accountId, ownerId: newId(), currency: 'USD' }),
      effect: () => count('SELECT 1 FROM account_owners WHERE account_id = $1', accountId),
    });
  });
});
