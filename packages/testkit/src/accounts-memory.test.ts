import { accountStoreContract } from './accounts-contract';
import { InMemoryAccountStore } from './accounts-memory';

const store = new InMemoryAccountStore();
accountStoreContract('in-memory fake', async () => ({ store, events: async () => store.events.map((e) => `${e.event}:${e.account.id}`) }), async () => undefined);
