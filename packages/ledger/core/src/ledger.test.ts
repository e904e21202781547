import { ManualClock, newId } from '@bank/kernel';
import { InMemoryLedgerStore, transferRequest } from '@bank/testkit';
import { Ledger, systemAccountId } from './ledger';
import type { LedgerStore } from './ports';

const settlement = systemAccountId('USD', 'settlement');

async function setUp(store: LedgerStore, batching: Partial<ConstructorParameters<typeof Ledger>[2]> = {}) {
  const ledger = new Ledger(store, new ManualClock(), { windowMs: 0, maxTransfers: 8_000, maxInFlight: 1, maxQueuedTransfers: 64_000, defaultTimeoutSeconds: 60, ...batching });
  await ledger.ensureSystemAccounts(['USD']);
  const accounts = [newId(), newId()];
  for (const id of accounts) await ledger.openCustomerAccount(id, 'USD', newId());
  return { ledger, accounts };
}

/** Counts the store's transactions, to see how calls were coalesced. */
class CountingStore extends InMemoryLedgerStore {
  transactions = 0;
  override transact: InMemoryLedgerStore['transact'] = (footprint, decide) => {
    this.transactions++;
    return super.transact(footprint, decide);
  };
}

/** Keeps each transaction in flight for a while and records how many were in flight together. */
class SlowStore extends InMemoryLedgerStore {
  private readonly running = new Set<readonly string[]>();
  maxConcurrent = 0;
  override transact: InMemoryLedgerStore['transact'] = async (footprint, decide) => {
    const mine = footprint.accountIds;
    this.running.add(mine);
    this.maxConcurrent = Math.max(this.maxConcurrent, this.running.size);
    try {
      await new Promise((r) => setTimeout(r, 3));
      return await super.transact(footprint, decide);
    } finally {
      this.running.delete(mine);
    }
  };
}

/** While stalled, holds every transaction until released: a database that has stopped answering. */
class StallingStore extends InMemoryLedgerStore {
  private gate: Promise<void> | undefined;
  private open: () => void = () => undefined;
  stall(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.open();
    this.gate = undefined;
  }
  override transact: InMemoryLedgerStore['transact'] = async (footprint, decide) => {
    await this.gate;
    return super.transact(footprint, decide);
  };
}

describe('the batcher queue', () => {
  it('refuses a call at once with LEDGER_OVERLOADED when the transfers waiting would pass the bound, and serves the rest', async () => {
    const store = new StallingStore();
    const { ledger, accounts } = await setUp(store, { maxTransfers: 5, maxQueuedTransfers: 10, maxInFlight: 1 });
    const credit = (n: number) => ledger.createTransfers(Array.from({ length: n }, () => transferRequest({ debitAccountId: settlement, creditAccountId: accounts[0], amount: 1n })));
    store.stall();
    // One batch in flight (the store does not answer), then 10 transfers waiting: the bound.
    const inFlight = credit(5);
    const waiting = [credit(5), credit(5)];
    await expect(credit(1)).rejects.toMatchObject({ code: 'LEDGER_OVERLOADED' });
    store.release();
    expect(await Promise.all([inFlight, ...waiting])).toEqual([Array(5).fill('ok'), Array(5).fill('ok'), Array(5).fill('ok')]);
    // Once the queue has drained, calls are taken again.
    expect(await credit(1)).toEqual(['ok']);
    const [a] = await ledger.lookupAccounts([accounts[0] as string]);
    expect(a?.creditsPosted).toBe(16n);
  });
});

describe('Ledger use cases with the in-memory store', () => {
  it('keeps several batches in flight and hands them to the store in the order the calls came', async () => {
    const store = new SlowStore();
    const { ledger } = await setUp(store, { maxInFlight: 4 });
    const hot = newId();
    const payers = Array.from({ length: 20 }, () => newId());
    const others = Array.from({ length: 40 }, () => newId());
    for (const id of [hot, ...payers, ...others]) await ledger.openCustomerAccount(id, 'USD', newId());
    await ledger.createTransfers([...payers, ...others].map((id) => transferRequest({ debitAccountId: settlement, creditAccountId: id, amount: 1_000n })));
    store.maxConcurrent = 0;
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      calls.push(ledger.createTransfers([transferRequest({ debitAccountId: payers[i], creditAccountId: hot, amount: BigInt(i + 1) })]));
      calls.push(ledger.createTransfers([transferRequest({ debitAccountId: others[2 * i], creditAccountId: others[2 * i + 1], amount: 1n })]));
    }
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 40 }, () => ['ok']));
    expect(store.maxConcurrent).toBeGreaterThan(1);
    // The hot account saw its credits in the order the calls were made.
    const lines = (await ledger.statement(hot, 100, '')).lines.reverse();
    expect(lines.map((l) => l.amount)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
    expect((await ledger.verify()).violations).toEqual([]);
  });

  it('coalesces concurrent calls into few batches and answers each call with its own results', async () => {
    const store = new CountingStore();
    const { ledger, accounts } = await setUp(store, { windowMs: 5 });
    const [a, b] = accounts as [string, string];
    store.transactions = 0;
    const calls = Array.from({ length: 50 }, (_, i) =>
      ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: i % 2 ? a : b, amount: BigInt(i + 1) })]),
    );
    calls.push(ledger.createTransfers([transferRequest({ debitAccountId: a, creditAccountId: b, amount: 1_000_000n })]));
    const results = await Promise.all(calls);
    expect(results.slice(0, 50)).toEqual(Array.from({ length: 50 }, () => ['ok']));
    expect(results[50]).toEqual(['exceeds_credits']);
    expect(store.transactions).toBeLessThanOrEqual(2);
    expect((await ledger.verify()).violations).toEqual([]);
  });

  it('splits work beyond the batch size cap into several transactions', async () => {
    const store = new CountingStore();
    const { ledger, accounts } = await setUp(store, { maxTransfers: 10 });
    store.transactions = 0;
    await Promise.all(Array.from({ length: 5 }, () => ledger.createTransfers(Array.from({ length: 8 }, () => transferRequest({ debitAccountId: settlement, creditAccountId: accounts[0], amount: 1n })))));
    expect(store.transactions).toBe(5);
  });

  it('rejects every call of a batch whose transaction failed, and applies nothing', async () => {
    const store = new InMemoryLedgerStore();
    const { ledger, accounts } = await setUp(store);
    store.failNextCommit = new Error('connection reset');
    const call = ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: accounts[0], amount: 5n })]);
    await expect(call).rejects.toThrow('connection reset');
    expect((await ledger.lookupAccounts([accounts[0] as string]))[0]?.creditsPosted).toBe(0n);
    expect(await ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: accounts[0], amount: 5n })])).toEqual(['ok']);
  });

  it('validates call shape before touching the store', async () => {
    const { ledger } = await setUp(new InMemoryLedgerStore());
    await expect(ledger.createTransfers([])).rejects.toMatchObject({ code: 'TOO_MANY_ITEMS' });
    await expect(ledger.createTransfers([transferRequest({ reference: 'r'.repeat(256) })])).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(ledger.createTransfers([transferRequest({ description: 'a\u0000b' })])).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(ledger.statement(newId(), 101, '')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(ledger.statement(newId(), 10, 'abc')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(ledger.statement(newId(), 10, '')).rejects.toMatchObject({ code: 'ACCOUNT_NOT_FOUND' });
    await expect(ledger.getTransfer('nope')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
