export { PaymentAccountSchema, PAYMENT_ENTITIES } from './entities';
export { PostgresAccountDirectory, projectAccountOpened, projectAccountState } from './directory';
export type { AccountSource } from './directory';
export { paymentsMigrations } from './migrations';
export { PAYMENT_SETTLED_CHANNEL, PostgresPaymentStore } from './store';
