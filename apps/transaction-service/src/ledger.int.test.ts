import { ledgerV1 } from '@bank/contracts';
import { depositReference, newId, paymentReference, systemClock } from '@bank/kernel';
import { Ledger, TransferFlags, systemAccountId } from '@bank/ledger-core';
import { PostgresLedgerStore } from '@bank/ledger-postgres';
import { BeeQueuePublisher, DependencyHealth, loadConfig, type Persistence, RemoteCallError, startContainer, type StartedService } from '@bank/platform';
import { TEST_REDIS_URL, blockDatabase, createTestDatabase, expectEffectCommitsWithInbox, testEnvelope, testQueuePrefix, waitFor, captureLogger, TEST_TLS_DIR, testIdentity } from '@bank/testkit';
import { schema } from './config';
import { buildContainer } from './container';
import { accountEventHandlers } from './events';
import { LeanLedgerClient } from './bench/lean-grpc-client';
import { LedgerClient, resultName } from './support/ledger-client';

let service: StartedService;
let client: LedgerClient;
let drop: () => Promise<void>;
let databaseUrl: string;
let prefix: string;
const settlement = systemAccountId('USD', 'settlement');

beforeAll(async () => {
  const t = await createTestDatabase('ledger_service');
  drop = t.drop;
  databaseUrl = t.url;
  prefix = testQueuePrefix('ledger');
  const config = loadConfig(schema, {
    LEDGER_DATABASE_URL: t.url,
    LEDGER_GRPC_PORT: '0',
    LEDGER_METRICS_PORT: '0',
    BANK_TLS_DIR: TEST_TLS_DIR,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    LEDGER_BATCH_WINDOW_MS: '1',
  });
  service = await startContainer<StartedService>(buildContainer(config));
  client = new LedgerClient(`127.0.0.1:${service.grpcPort}`, testIdentity('bank-cli'));
});

afterAll(async () => {
  client.close();
  await service.stop();
  await drop();
});

async function openAccounts(n: number, fundEach: bigint): Promise<string[]> {
  const ids = Array.from({ length: n }, () => newId());
  const res = await client.createAccounts(ids.map((id) => ({ id, currency: 'USD', kind: ledgerV1.AccountKind.ACCOUNT_KIND_CUSTOMER, flags: 1, ownerId: newId() })));
  expect(res.results.every((r) => r === ledgerV1.CreateAccountResult.CREATE_ACCOUNT_RESULT_OK)).toBe(true);
  if (fundEach > 0n) {
    const funded = await client.createTransfers(ids.map((id) => ({ id: newId(), debitAccountId: settlement, creditAccountId: id, amount: fundEach, currency: 'USD' })));
    expect(funded.outcomes.map((o) => resultName(o.result))).toEqual(ids.map(() => 'ok'));
  }
  return ids;
}

describe('transaction-service over gRPC', () => {
  it('creates the system accounts of every currency at start', async () => {
    const { accounts } = await client.lookupAccounts([systemAccountId('USD', 'settlement'), systemAccountId('JPY', 'fees'), systemAccountId('EUR', 'suspense')]);
    expect(accounts.map((a) => [a.currency, a.kind])).toEqual([
      ['USD', ledgerV1.AccountKind.ACCOUNT_KIND_SETTLEMENT],
      ['JPY', ledgerV1.AccountKind.ACCOUNT_KIND_FEES],
      ['EUR', ledgerV1.AccountKind.ACCOUNT_KIND_SUSPENSE],
    ]);
  });

  it('answers INVALID_ARGUMENT for an empty or oversized call and changes nothing', async () => {
    for (const transfers of [[], Array.from({ length: 8_001 }, () => ({ id: newId(), amount: 1n }))]) {
      const err = await client.createTransfers(transfers).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteCallError);
      expect((err as RemoteCallError).code).toBe('TOO_MANY_ITEMS');
      expect((err as RemoteCallError).grpcCode).toBe(3);
    }
    const [a] = await openAccounts(1, 0n);
    const err = await client.createTransfers([{ id: newId(), debitAccountId: settlement, creditAccountId: a, amount: 1n, currency: 'USD', description: 'x'.repeat(501) }]).catch((e: unknown) => e);
    expect((err as RemoteCallError).fields).toEqual([{ field: 'transfers[0].description', message: 'at most 500 characters' }]);
    expect((await client.lookupAccounts([a!])).accounts[0]?.creditsPosted).toBe(0n);
  });

  it("lets payment-service debit the settlement account only with a deposit's transfer or a payment's barrier hold", async () => {
    const asPayments = new LedgerClient(`127.0.0.1:${service.grpcPort}`, testIdentity('payment-service'));
    try {
      const [a] = await openAccounts(1, 0n);
      const suspense = systemAccountId('USD', 'suspense');
      const mint = (t: Partial<ledgerV1.Transfer>) => asPayments.createTransfers([{ id: newId(), debitAccountId: settlement, creditAccountId: a, amount: 1_000n, currency: 'USD', ...t }]);
      // Money made from nothing: no reference, a payment's, a deposit into a system account, a pending deposit.
      for (const t of [{}, { reference: paymentReference(newId()) }, { reference: depositReference(newId()), creditAccountId: suspense }, { reference: depositReference(newId()), flags: TransferFlags.PENDING }, { reference: `${paymentReference(newId())}:barrier` }]) {
        const err = await mint(t).catch((e: unknown) => e);
        expect([t, (err as RemoteCallError).grpcCode, (err as RemoteCallError).code]).toEqual([t, 7, 'PERMISSION_DENIED']);
      }
      expect((await client.lookupAccounts([a!])).accounts[0]?.creditsPosted).toBe(0n);
      // The deposit flow's transfer and a barrier hold (then voided) are its to send.
      expect((await mint({ reference: depositReference(newId()) })).outcomes.map((o) => resultName(o.result))).toEqual(['ok']);
      const barrier = newId();
      const barrierRef = `${paymentReference(newId())}:barrier`;
      const held = await asPayments.createTransfers([
        { id: barrier, debitAccountId: settlement, creditAccountId: suspense, amount: 1n, currency: 'USD', flags: TransferFlags.PENDING | TransferFlags.LINKED, reference: barrierRef },
        { id: newId(), pendingId: barrier, flags: TransferFlags.VOID_PENDING, reference: barrierRef },
      ]);
      expect(held.outcomes.map((o) => resultName(o.result))).toEqual(['ok', 'ok']);
      expect((await client.lookupAccounts([a!])).accounts[0]?.creditsPosted).toBe(1_000n);
    } finally {
      asPayments.close();
    }
  });

  it('returns a result per transfer and a statement with holds merged into one line', async () => {
    const [alice, bob] = await openAccounts(2, 10_000n);
    const hold = newId();
    const res = await client.createTransfers([
      { id: hold, debitAccountId: alice, creditAccountId: bob, amount: 4_000n, currency: 'USD', flags: TransferFlags.PENDING, reference: 'pay-9' },
      { id: newId(), debitAccountId: alice, creditAccountId: bob, amount: 7_000n, currency: 'USD' },
      { id: newId(), debitAccountId: alice, creditAccountId: bob, amount: 6_000n, currency: 'USD' },
    ]);
    expect(res.outcomes.map((o) => resultName(o.result))).toEqual(['ok', 'exceeds_credits', 'ok']);
    await client.createTransfers([{ id: newId(), flags: TransferFlags.POST_PENDING, pendingId: hold, amount: 2_500n }]);
    const statement = await client.getStatement(alice!, 10);
    expect(statement.entries.map((e) => [e.transferId === hold, ledgerV1.entryStatusToJSON(e.status), e.amount, e.balanceAfter])).toEqual([
      [true, 'ENTRY_STATUS_POSTED', 2_500n, 1_500n],
      [false, 'ENTRY_STATUS_POSTED', 6_000n, 4_000n],
      [false, 'ENTRY_STATUS_POSTED', 10_000n, 10_000n],
    ]);
    const view = await client.getTransfer(hold);
    expect([view.status, view.postedAmount]).toEqual([ledgerV1.TransferStatus.TRANSFER_STATUS_POSTED, 2_500n]);
  });

  it('the sweeper voids a hold once its timeout passes, releasing the money and telling payment-service', async () => {
    const [alice, bob] = await openAccounts(2, 1_000n);
    const hold = newId();
    const res = await client.createTransfers([{ id: hold, debitAccountId: alice, creditAccountId: bob, amount: 600n, currency: 'USD', flags: TransferFlags.PENDING, timeoutSeconds: 1, reference: 'pay-expiring' }]);
    expect(resultName(res.outcomes[0]!.result)).toBe('ok');
    expect((await client.lookupAccounts([alice!])).accounts[0]?.debitsPending).toBe(600n);
    const expired = await waitFor(async () => {
      const t = await client.getTransfer(hold);
      return t.status === ledgerV1.TransferStatus.TRANSFER_STATUS_EXPIRED ? t : undefined;
    }, 10_000, 100);
    expect(expired.postedAmount).toBe(0n);
    const [a] = (await client.lookupAccounts([alice!])).accounts;
    expect([a?.debitsPending, a?.debitsPosted]).toEqual([0n, 0n]);
    const { rows } = await service.db.sql.query<{ payload: unknown[][] }>("SELECT payload FROM outbox WHERE type = 'batch'");
    const events = rows.flatMap((r) => r.payload).filter((e) => e[1] === 'transfer.expired' && e[2] === hold);
    expect(events).toHaveLength(1);
    expect((await client.verify()).violations).toEqual([]);
  });

  it('creates, freezes and closes ledger accounts from user-service events, in order, once', async () => {
    const publisher = new BeeQueuePublisher({ redisUrl: TEST_REDIS_URL, prefix }, new DependencyHealth('redis', captureLogger().logger));
    const accountId = newId();
    const envelope = (type: 'account.opened' | 'account.frozen' | 'account.unfrozen', sequence: number, payload: unknown) => ({
      id: newId(), type, aggregateId: accountId, sequence, occurredAt: new Date().toISOString(), traceparent: '', payload,
    });
    const opened = envelope('account.opened', 10, { accountId, ownerId: newId(), currency: 'EUR' });
    // The freeze overtakes the opening: it is retried until the account exists.
    await publisher.publish('transaction-service', [envelope('account.frozen', 11, { accountId, reason: 'fraud check' })]);
    await new Promise((r) => setTimeout(r, 100));
    // The opening is delivered twice: the inbox applies it once.
    await publisher.publish('transaction-service', [opened]);
    await publisher.publish('transaction-service', [{ ...opened }]);
    const frozen = await waitFor(async () => {
      const [a] = (await client.lookupAccounts([accountId])).accounts;
      return a?.state === ledgerV1.AccountState.ACCOUNT_STATE_FROZEN ? a : undefined;
    }, 20_000);
    expect(frozen).toMatchObject({ currency: 'EUR', kind: ledgerV1.AccountKind.ACCOUNT_KIND_CUSTOMER, flags: 1 });
    const res = await client.createTransfers([{ id: newId(), debitAccountId: systemAccountId('EUR', 'settlement'), creditAccountId: accountId, amount: 5n, currency: 'EUR' }]);
    expect(resultName(res.outcomes[0]!.result)).toBe('credit_account_frozen');
    await publisher.close();
  });
});

describe('concurrency: thousands of random transfers with duplicates and hot accounts', () => {
  const TRANSFERS = 5_000;
  const CALLERS = 64;

  it('keeps every invariant and applies each transfer id exactly once', async () => {
    const accounts = await openAccounts(40, 50_000n);
    const hot = accounts.slice(0, 3);
    const rand = (n: number) => Math.floor(Math.random() * n);
    const pick = () => (Math.random() < 0.3 ? hot[rand(hot.length)] : accounts[rand(accounts.length)]) as string;
    type Sent = { id: string; amount: bigint; debit: string; credit: string; flags: number; pendingId: string };
    const originals: Sent[] = [];
    const plan: Sent[] = [];
    for (let i = 0; i < TRANSFERS; i++) {
      const r = Math.random();
      if (r < 0.15 && originals.length > 0) {
        plan.push({ ...(originals[rand(originals.length)] as Sent) }); // exact duplicate of an earlier id
        continue;
      }
      let debit = pick();
      let credit = pick();
      while (credit === debit) credit = accounts[rand(accounts.length)] as string;
      if (Math.random() < 0.5) [debit, credit] = [credit, debit];
      const t: Sent = { id: newId(), amount: BigInt(1 + rand(4_000)), debit, credit, flags: r < 0.25 ? TransferFlags.PENDING : 0, pendingId: '' };
      originals.push(t);
      plan.push(t);
      if (t.flags === TransferFlags.PENDING && Math.random() < 0.6) {
        const resolve: Sent = { id: newId(), amount: 0n, debit: '', credit: '', flags: Math.random() < 0.5 ? TransferFlags.POST_PENDING : TransferFlags.VOID_PENDING, pendingId: t.id };
        originals.push(resolve);
        plan.push(resolve);
      }
    }
    const outcomes = new Map<string, string[]>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        while (next < plan.length) {
          const t = plan[next++] as Sent;
          const res = await client.createTransfers([{ id: t.id, debitAccountId: t.debit, creditAccountId: t.credit, amount: t.amount, currency: t.pendingId ? '' : 'USD', flags: t.flags, pendingId: t.pendingId }]);
          const list = outcomes.get(t.id) ?? [];
          list.push(resultName(res.outcomes[0]!.result));
          outcomes.set(t.id, list);
        }
      }),
    );
    const report = await client.verify();
    expect(report.violations).toEqual([]);
    expect(report.ok).toBe(true);
    const { accounts: after } = await client.lookupAccounts(accounts);
    for (const a of after) expect(a.creditsPosted - a.debitsPosted - a.debitsPending).toBeGreaterThanOrEqual(0n);
    const { rows } = await service.db.sql.query('SELECT id FROM transfers WHERE id = ANY($1::uuid[])', [[...outcomes.keys()]]);
    const stored = new Set(rows.map((r) => r.id as string));
    let duplicates = 0;
    let succeeded = 0;
    for (const [id, results] of outcomes) {
      const oks = results.filter((r) => r === 'ok').length;
      const exists = results.filter((r) => r === 'exists').length;
      if (results.length > 1) duplicates++;
      // An id is applied at most once. A refused transfer is not recorded, so a later copy may
      // still succeed; but `exists` is only ever said of an id that was applied.
      expect(oks).toBeLessThanOrEqual(1);
      expect(stored.has(id)).toBe(oks === 1);
      if (oks === 0) expect(exists).toBe(0);
      else succeeded++;
    }
    expect(duplicates).toBeGreaterThan(100);
    expect(succeeded).toBeGreaterThan(TRANSFERS / 2);
  }, 120_000);
});

describe("the benchmark's lean gRPC client", () => {
  it('reads per-transfer results, whole replies over many HTTP/2 frames, and fails on an error status', async () => {
    const [alice, bob] = await openAccounts(2, 100n);
    const address = `127.0.0.1:${service.grpcPort}`;
    const lean = new LeanLedgerClient(address, testIdentity('payment-service'));
    const stranger = new LeanLedgerClient(address, testIdentity('api-gateway'));
    try {
      const paid = newId();
      const res = await lean.createTransfers(
        [
          { id: paid, debitAccountId: alice, creditAccountId: bob, amount: 60n, currency: 'USD' },
          { id: newId(), debitAccountId: alice, creditAccountId: bob, amount: 60n, currency: 'USD' },
        ],
        5_000,
      );
      expect(res.outcomes.map((o) => resultName(o.result))).toEqual(['ok', 'exceeds_credits']);
      expect((await client.getTransfer(paid)).transfer?.amount).toBe(60n);
      await expect(lean.createTransfers([], 5_000)).rejects.toMatchObject({ status: '3' });
      // The gateway's own certificate does not make it a payer: CreateTransfers is payment-service's and bank-cli's.
      await expect(stranger.createTransfers([{ id: newId(), debitAccountId: alice, creditAccountId: bob, amount: 1n, currency: 'USD' }], 5_000)).rejects.toMatchObject({ status: '7' });
      expect((await client.lookupAccounts([alice!])).accounts[0]?.debitsPosted).toBe(60n);
      // 1,000 outcomes are a reply of tens of KB: several DATA frames of at most 16 KB each.
      const ids = Array.from({ length: 1_000 }, () => newId());
      const many = await lean.createTransfers(
        ids.map((id) => ({ id, debitAccountId: settlement, creditAccountId: bob, amount: 1n, currency: 'USD', reference: depositReference(id) })),
        5_000,
      );
      expect(many.outcomes.map((o) => [o.id, resultName(o.result)])).toEqual(ids.map((id) => [id, 'ok']));
      expect((await client.lookupAccounts([bob!])).accounts[0]?.creditsPosted).toBe(100n + 60n + 1_000n);
    } finally {
      lean.close();
      stranger.close();
    }
  });

  // Last: it takes the suite's database away for a moment.
  it('answers UNAVAILABLE at once while its database is unreachable, and serves again without a restart when it returns', async () => {
    const [alice, bob] = await openAccounts(2, 1_000n);
    const pay = () => client.createTransfers([{ id: newId(), debitAccountId: alice, creditAccountId: bob, amount: 1n, currency: 'USD' }]);
    const unblock = await blockDatabase(databaseUrl);
    try {
      // UNAVAILABLE (14), not DEADLINE_EXCEEDED: the call failed before its deadline instead of waiting on the database.
      const err = await pay().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteCallError);
      expect((err as RemoteCallError).grpcCode).toBe(14);
      const read = await client.lookupAccounts([alice!]).catch((e: unknown) => e);
      expect((read as RemoteCallError).grpcCode).toBe(14);
    } finally {
      await unblock();
    }
    await waitFor(async () => (await pay().catch(() => undefined))?.outcomes.every((o) => resultName(o.result) === 'ok'), 15_000, 200);
    const [a] = (await client.lookupAccounts([alice!])).accounts;
    expect(a?.debitsPosted).toBe(1n);
  }, 30_000);
});

describe("transaction-service's account consumer", () => {
  const ledgerOver = (db: Persistence) => new Ledger(new PostgresLedgerStore(db), systemClock, { windowMs: 0, maxTransfers: 10, maxInFlight: 1, maxQueuedTransfers: 100, defaultTimeoutSeconds: 60 });

  it("commits account.opened's ledger account with its inbox row: a failure after the write leaves neither", async () => {
    const accountId = newId();
    await expectEffectCommitsWithInbox({
      db: service.db,
      consumer: 'transaction-service',
      handlers: accountEventHandlers(ledgerOver),
      envelope: testEnvelope('account.opened', accountId, { accountId, ownerId: newId(), currency: 'USD' }),
      effect: async () => (await service.db.sql.query('SELECT 1 FROM ledger_accounts WHERE id = $1', [accountId])).rowCount ?? 0,
    });
  });

  it("commits account.frozen's state change with its inbox row", async () => {
    const accountId = newId();
    const ledger = ledgerOver(service.db);
    expect(await ledger.openCustomerAccount(accountId, 'USD', newId())).toBe('ok');
    await expectEffectCommitsWithInbox({
      db: service.db,
      consumer: 'transaction-service',
      handlers: accountEventHandlers(ledgerOver),
      envelope: testEnvelope('account.frozen', accountId, { accountId, reason: 'fraud check' }, 2),
      effect: async () => (await service.db.sql.query("SELECT 1 FROM ledger_accounts WHERE id = $1 AND state = 'frozen'", [accountId])).rowCount ?? 0,
    });
  });
});
