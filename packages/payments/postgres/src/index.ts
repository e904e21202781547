export { PaymentAccountSchema, PAYMENT_ENTITIES } from './entities';
export { PostgresAccountDirectory } from './directory';
export type { AccountSource } from './directory';
export { paymentsMigrations } from './migrations';
export { PAYMENT_SETTLED_CHANNEL, PostgresPaymentStore } from './store';
