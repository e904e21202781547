import { checkEventRouting } from '@bank/platform';
import { accountEventHandlers } from './events';

describe("transaction-service's event handlers", () => {
  it('handle exactly the event types the catalogue routes to transaction-service', () => {
    expect(() => checkEventRouting('transaction-service', accountEventHandlers(() => ({ openCustomerAccount: async () => 'ok', setAccountState: async () => true })))).not.toThrow();
  });
});
