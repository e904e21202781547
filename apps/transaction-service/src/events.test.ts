import { checkEventRouting } from '@bank/platform';
import type { PostgresLedgerStore } from '@bank/ledger-postgres';
import { accountEventHandlers } from './events';

describe("transaction-service's event handlers", () => {
  it('handle exactly the event types the catalogue routes to transaction-service', () => {
    expect(() => checkEventRouting('transaction-service', accountEventHandlers({} as PostgresLedgerStore))).not.toThrow();
  });
});
