import type { Database } from '@bank/platform';
import { accountDirectoryContract, captureLogger, openTestDatabase, paymentStoreContract } from '@bank/testkit';
import { PostgresAccountDirectory } from './directory';
import { PAYMENT_ENTITIES } from './entities';
import { paymentsMigrations } from './migrations';
import { PostgresPaymentStore } from './store';

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
