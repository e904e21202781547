export { ledgerMigrations } from './migrations';
export { MAX_BATCH_CONFLICT_RETRIES, PostgresLedgerStore } from './store';
