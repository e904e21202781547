export { accountsMigrations } from './migrations';
export { PostgresAccountStore } from './store';
