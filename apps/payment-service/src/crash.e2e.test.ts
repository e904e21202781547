import { setTimeout as sleep } from 'node:timers/promises';
import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { GrpcCaller } from '@bank/platform';
import { callApi, signInOperator, signUpCustomer, startTestBank, waitFor, type TestBank, testClient } from '@bank/testkit';

// Crashes of payment-service and of the ledger in the middle of sagas, with every service a real
// process: whatever was in flight, every payment ends, no money is created or lost, no hold is
// left open, and the ledger's invariants hold.

const FUNDING = 1_000_000;
const SETTLE_MS = 60_000;

let bank: TestBank;
let ledger: ledgerV1.LedgerServiceClient;
let operatorToken: string;
const caller = new GrpcCaller();

type Customer = Awaited<ReturnType<typeof signUpCustomer>>;
interface Intent {
  readonly key: string;
  readonly payer: Customer;
  readonly body: { sourceAccountId: string; destinationAccountId: string; amount: number; currency: 'USD' };
}

beforeAll(async () => {
  bank = await startTestBank({
    label: 'crash',
    gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000', GATEWAY_RATE_LIMIT_PER_MIN: '100000' },
    serviceEnv: { payment: { PAYMENT_SWEEP_MS: '200' } },
  });
  ledger = testClient(ledgerV1.LedgerServiceClient, bank.addresses.ledger);
  operatorToken = await signInOperator(bank);
}, 90_000);

afterAll(async () => {
  ledger?.close();
  await bank?.stop();
});

/** Customers with one funded USD account each. */
async function customers(n: number): Promise<{ who: Customer; account: string }[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const who = await signUpCustomer(bank.url);
      const account = (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, who.token)).body!.id as string;
      const dep = await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: account, amount: FUNDING, currency: 'USD', reference: 'funding' }, operatorToken, { 'Idempotency-Key': newId() });
      expect(dep.status).toBe(201);
      return { who, account };
    }),
  );
}

function intents(people: { who: Customer; account: string }[], n: number): Intent[] {
  return Array.from({ length: n }, (_, i) => {
    const from = people[i % people.length]!;
    const to = people[(i + 1) % people.length]!;
    return { key: newId(), payer: from.who, body: { sourceAccountId: from.account, destinationAccountId: to.account, amount: 1 + (i % 7) * 100, currency: 'USD' } };
  });
}

const send = (i: Intent) => callApi(bank.url, 'POST', '/v1/payments', i.body, i.payer.token, { 'Idempotency-Key': i.key }).catch(() => undefined);

/**
 * A client's retries: the same key and body until the bank answers with the payment, then its
 * status until it ends. Answers the terminal payment.
 */
async function outcome(i: Intent): Promise<Record<string, unknown>> {
  const accepted = await waitFor(async () => {
    const r = await send(i);
    return r && (r.status === 201 || r.status === 202) ? r.body : undefined;
  }, SETTLE_MS, 200);
  return waitFor(async () => {
    const r = await callApi(bank.url, 'GET', `/v1/payments/${accepted.id as string}`, undefined, i.payer.token).catch(() => undefined);
    return r?.status === 200 && r.body!.status !== 'pending' ? r.body : undefined;
  }, SETTLE_MS, 200);
}

/** Money is where the completed payments say, nothing is held, and the ledger's invariants hold. */
async function moneyIsConserved(people: { who: Customer; account: string }[], done: Record<string, unknown>[]): Promise<void> {
  const expected = new Map(people.map((p) => [p.account, BigInt(FUNDING)]));
  for (const p of done) {
    if (p.status !== 'completed') continue;
    const amount = BigInt(p.amount as number);
    expected.set(p.sourceAccountId as string, (expected.get(p.sourceAccountId as string) ?? 0n) - amount);
    expected.set(p.destinationAccountId as string, (expected.get(p.destinationAccountId as string) ?? 0n) + amount);
  }
  for (const p of people) {
    const balance = await waitFor(async () => {
      const b = (await callApi(bank.url, 'GET', `/v1/accounts/${p.account}`, undefined, p.who.token)).body!.balance as { posted: number; pending: number };
      return b.pending === 0 ? b : undefined;
    }, SETTLE_MS, 200);
    expect([p.account, BigInt(balance.posted)]).toEqual([p.account, expected.get(p.account)]);
  }
  const report = await caller.unary<ledgerV1.VerifyInvariantsResponse>((md, o, cb) => ledger.verifyInvariants({}, md, o, cb), { timeoutMs: 30_000 });
  expect(report.violations).toEqual([]);
}

describe('crashes in the middle of payment sagas', () => {
  it('SIGKILL of payment-service while its holds wait at a frozen ledger: after a restart every payment completes once', async () => {
    const people = await customers(2);
    const wanted = intents(people, 8);
    await bank.signal('ledger', 'SIGSTOP');
    try {
      // Accepted (202) and their holds sent to a ledger that is not reading: the replies will be lost.
      for (const i of wanted) expect((await send(i))?.status).toBe(202);
      await sleep(300);
      await bank.signal('payment', 'SIGKILL');
    } finally {
      await bank.signal('ledger', 'SIGCONT');
    }
    await bank.restart('payment');
    const done = await Promise.all(wanted.map(outcome));
    expect(done.map((p) => p.status)).toEqual(wanted.map(() => 'completed'));
    await moneyIsConserved(people, done);
  }, 120_000);

  it.each([25, 100, 250])('SIGKILL of payment-service %i ms into a burst of payments: every payment ends and money is conserved', async (delayMs) => {
    const people = await customers(3);
    const wanted = intents(people, 30);
    const inFlight = Promise.all(wanted.map(send));
    await sleep(delayMs);
    await bank.signal('payment', 'SIGKILL');
    await inFlight;
    await bank.restart('payment');
    const done = await Promise.all(wanted.map(outcome));
    // Nothing here can fail for a business reason: every account holds enough.
    expect(done.map((p) => p.status)).toEqual(wanted.map(() => 'completed'));
    await moneyIsConserved(people, done);
    expect(bank.exits).toEqual([]);
  }, 120_000);

  it('SIGKILL of the ledger in the middle of a burst: the sagas wait for it and finish after its restart', async () => {
    const people = await customers(3);
    const wanted = intents(people, 30);
    const inFlight = Promise.all(wanted.map(send));
    await sleep(50);
    await bank.signal('ledger', 'SIGKILL');
    await inFlight;
    await sleep(1_000);
    await bank.restart('ledger');
    const done = await Promise.all(wanted.map(outcome));
    expect(done.map((p) => p.status)).toEqual(wanted.map(() => 'completed'));
    await moneyIsConserved(people, done);
    expect(bank.exits).toEqual([]);
  }, 120_000);

  it.each(['before:hold', 'after:hold', 'before:capture', 'after:capture'])(
    'payment-service killed at %s: after a restart the payment completes once, and nothing is held',
    async (failpoint) => {
      const people = await customers(2);
      const [wanted] = intents(people, 1) as [Intent];
      // A process that dies at this edge of the saga's steps, the way a crash does (SIGKILL).
      await bank.signal('payment', 'SIGKILL');
      await bank.restart('payment', { PAYMENT_FAILPOINTS: failpoint });
      const died = bank.exitOf('payment');
      // The answer may or may not leave before the process dies: the client retries with its key either way.
      await send(wanted);
      await died;
      await bank.restart('payment', { PAYMENT_FAILPOINTS: '' });
      const [done] = await Promise.all([outcome(wanted)]);
      expect(done).toMatchObject({ status: 'completed', failureCode: null });
      await moneyIsConserved(people, [done as Record<string, unknown>]);
      expect(bank.exits).toEqual([]);
    },
    120_000,
  );
});
