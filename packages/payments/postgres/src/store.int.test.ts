import { Database } from '@bank/platform';
import { captureLogger, createTestDatabase, paymentStoreContract } from '@bank/testkit';
import { PAYMENT_ENTITIES } from './entities';
import { paymentsMigrations } from './migrations';
import { PostgresPaymentStore } from './store';

const { logger } = captureLogger('payments-store-test');
let db: Database;
let drop: () => Promise<void>;

paymentStoreContract(
  'PostgreSQL',
  async () => {
    const t = await createTestDatabase('payments_store');
    drop = t.drop;
    db = await Database.open({ clientUrl: t.url, migrations: paymentsMigrations, entities: [...PAYMENT_ENTITIES], logger });
    await db.migrate();
    return new PostgresPaymentStore(db);
  },
  async () => {
    await db.close();
    await drop();
  },
);
