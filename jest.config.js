// One jest run, three projects: unit (no I/O), integration (real PostgreSQL and Redis), e2e (real
// processes through the gateway). Tests import workspace packages from source through the mapper.
const path = require('node:path');

const moduleNameMapper = {
  '^@bank/kernel$': '<rootDir>/packages/kernel/src',
  '^@bank/contracts$': '<rootDir>/packages/contracts/src',
  '^@bank/platform$': '<rootDir>/packages/platform/src',
  '^@bank/testkit$': '<rootDir>/packages/testkit/src',
  '^@bank/ledger-core$': '<rootDir>/packages/ledger/core/src',
  '^@bank/ledger-postgres$': '<rootDir>/packages/ledger/postgres/src',
  '^@bank/accounts-core$': '<rootDir>/packages/accounts/core/src',
  '^@bank/accounts-postgres$': '<rootDir>/packages/accounts/postgres/src',
  '^@bank/payments-core$': '<rootDir>/packages/payments/core/src',
  '^@bank/payments-postgres$': '<rootDir>/packages/payments/postgres/src',
};

// Type checking happens once in `tsc -b`; jest only transpiles, which keeps the suite fast.
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.jest.json') }],
};

const common = {
  rootDir: __dirname,
  moduleNameMapper,
  transform,
  testEnvironment: 'node',
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  // Runs once after every project: the suites' Redis keys go (see packages/testkit/src/teardown.ts).
  globalTeardown: '<rootDir>/packages/testkit/src/teardown.ts',
  // Runs once before: the tests' certificates, one per workload (see packages/testkit/src/identities.ts).
  globalSetup: '<rootDir>/packages/testkit/src/setup.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{packages,apps,cli}/**/src/**/*.test.ts'], testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.int\\.test\\.ts$', '\\.e2e\\.test\\.ts$', '\\.faults\\.test\\.ts$'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/{packages,apps,cli}/**/src/**/*.int.test.ts'], testTimeout: 60_000 },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/{packages,apps,cli}/**/src/**/*.e2e.test.ts'], testTimeout: 120_000, setupFilesAfterEnv: ['<rootDir>/packages/testkit/src/e2e-setup.ts'] },
    // The fault harness (npm run test:faults): minutes per seed, so only when asked for.
    ...(process.env.BANK_FAULTS === '1' ? [{ ...common, displayName: 'faults', testMatch: ['<rootDir>/packages/testkit/src/faults/*.faults.test.ts'] }] : []),
  ],
};
