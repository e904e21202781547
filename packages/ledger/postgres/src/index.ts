export { ledgerMigrations } from './migrations';
export { MAX_BATCH_CONFLICT_RETRIES } from './pipeline';
export { PostgresLedgerStore } from './store';
