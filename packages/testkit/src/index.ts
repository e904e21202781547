export {
  TEST_DATABASE_ADMIN_URL,
  TEST_REDIS_NAMESPACE,
  TEST_REDIS_URL,
  captureLogger,
  configProblems,
  createTestDatabase,
  openTestDatabase,
  querySql,
  freePort,
  remoteFailure,
  testQueuePrefix,
  waitFor,
} from './infra';
export { TEST_TLS_DIR, ensureTestIdentities, testClient, testIdentity } from './identities';
export { BANK_VARIABLE, STACK_DEFAULT_PORTS, freePorts, httpStatus, isListening, processesWithEnv, startStack } from './processes';
export type { RunningStack } from './processes';
export { BANK_STARTUP_TIMEOUT_MS, TEST_CUSTOMER_PASSWORD, callApi, runBankCli, signInOperator, signUpCustomer, startTestBank } from './bank';
export type { ApiReply, BankService, CliReply, TestBank } from './bank';
export { blockDatabase, startTestRedis } from './outage';
export type { TestRedis } from './outage';
export { InMemoryLedgerStore } from './ledger-memory';
export { ledgerStoreContract, transferRequest } from './ledger-contract';
export type { StoreUnderTest } from './ledger-contract';
export { FakeLedgerBalances, InMemoryAccountStore } from './accounts-memory';
export { accountStoreContract } from './accounts-contract';
export { FakePaymentLedger, InMemoryAccountDirectory, InMemoryPaymentStore } from './payments-memory';
export { paymentFixture, paymentStoreContract } from './payments-contract';
export { accountDirectoryContract } from './directory-contract';
export type { DirectorySource } from './directory-contract';
export { migrationsReversibleContract } from './migrations';
export { expectEffectCommitsWithInbox, testEnvelope } from './consumers';
export { startTestAuth } from './tokens';
export type { TestAuth } from './tokens';
export { startTestSmtp } from './smtp';
export type { TestSmtp } from './smtp';
export { PGBENCH, pgbenchTps } from './bench/pgbench';
