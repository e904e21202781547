import { InMemoryLedgerStore } from './ledger-memory';
import { ledgerStoreContract } from './ledger-contract';

let store = new InMemoryLedgerStore();
ledgerStoreContract(
  'in-memory fake',
  async () => ({
    get store() {
      return store;
    },
    reset: async () => {
      store = new InMemoryLedgerStore();
    },
  }),
  async () => undefined,
);
