import { InMemoryAccountDirectory, InMemoryPaymentStore, accountDirectoryContract, paymentStoreContract } from '@bank/testkit';

paymentStoreContract('in memory', async () => new InMemoryPaymentStore(), async () => undefined);
accountDirectoryContract('in memory', async (source) => new InMemoryAccountDirectory(source), async () => undefined);
