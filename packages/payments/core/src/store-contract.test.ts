import { InMemoryPaymentStore, paymentStoreContract } from '@bank/testkit';

paymentStoreContract('in memory', async () => new InMemoryPaymentStore(), async () => undefined);
