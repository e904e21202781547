export { ACCOUNT_ENTITIES } from './entities';
export { accountsMigrations } from './migrations';
export { PostgresAccountStore } from './store';
