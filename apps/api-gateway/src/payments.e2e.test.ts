import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { GrpcCaller } from '@bank/platform';
import { callApi, signInOperator, signUpCustomer, startTestBank, waitFor, type ApiReply, type TestBank, testClient } from '@bank/testkit';

// Payments and deposits through the gateway, with every service a real process: the saga over the
// real ledger, idempotency keys, the daily limit, cancel, and the ledger frozen mid-flight.

const DAILY_LIMIT = 500_000;
const SETTLE_MS = 30_000;

let bank: TestBank;
let ledger: ledgerV1.LedgerServiceClient;
let operatorToken: string;
const caller = new GrpcCaller();

type Customer = Awaited<ReturnType<typeof signUpCustomer>>;

beforeAll(async () => {
  bank = await startTestBank({
    label: 'payments',
    gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000', GATEWAY_RATE_LIMIT_PER_MIN: '100000' },
    serviceEnv: { payment: { PAYMENT_DAILY_LIMIT: String(DAILY_LIMIT), PAYMENT_SWEEP_MS: '200' } },
  });
  ledger = testClient(ledgerV1.LedgerServiceClient, bank.addresses.ledger);
  operatorToken = await signInOperator(bank);
}, 90_000);

afterAll(async () => {
  ledger?.close();
  await bank?.stop();
});

const api = (method: string, url: string, body?: unknown, token?: string, headers: Record<string, string> = {}) => callApi(bank.url, method, url, body, token, headers);

async function account(c: Customer, currency = 'USD'): Promise<string> {
  const res = await api('POST', '/v1/accounts', { currency }, c.token);
  expect(res.status).toBe(201);
  return res.body!.id as string;
}

async function deposit(accountId: string, amount: number, key = newId()): Promise<ApiReply> {
  return api('POST', '/v1/admin/deposits', { accountId, amount, currency: 'USD', reference: 'cash in' }, operatorToken, { 'Idempotency-Key': key });
}

const pay = (c: Customer, body: Record<string, unknown>, key: string = newId(), wait = 10) =>
  api('POST', '/v1/payments', { currency: 'USD', ...body }, c.token, { 'Idempotency-Key': key, ...(wait > 0 ? { Prefer: `wait=${wait}` } : {}) });

async function balance(c: Customer, id: string): Promise<{ posted: number; pending: number; available: number }> {
  const res = await api('GET', `/v1/accounts/${id}`, undefined, c.token);
  expect(res.status).toBe(200);
  return res.body!.balance as { posted: number; pending: number; available: number };
}

async function settled(c: Customer, id: string): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const res = await api('GET', `/v1/payments/${id}`, undefined, c.token);
    return res.status === 200 && res.body!.status !== 'pending' ? res.body : undefined;
  }, SETTLE_MS, 100);
}

async function ledgerIsSound(): Promise<void> {
  const report = await caller.unary<ledgerV1.VerifyInvariantsResponse>((md, o, cb) => ledger.verifyInvariants({}, md, o, cb), { timeoutMs: 30_000 });
  expect(report.violations).toEqual([]);
  expect(report.ok).toBe(true);
}

describe('payments through the gateway', () => {
  let alice: Customer;
  let bob: Customer;
  let stranger: Customer;
  let from: string;
  let to: string;

  beforeAll(async () => {
    [alice, bob, stranger] = await Promise.all([signUpCustomer(bank.url), signUpCustomer(bank.url), signUpCustomer(bank.url)]);
    from = await account(alice);
    to = await account(bob);
  });

  it('deposits once per key: the same key again is replayed, another body is refused, customers get 404', async () => {
    const key = newId();
    const first = await deposit(from, 100_000, key);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ accountId: from, amount: 100_000, currency: 'USD', status: 'completed' });
    const again = await deposit(from, 100_000, key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await deposit(from, 5, key)).body).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await api('POST', '/v1/admin/deposits', { accountId: from, amount: 1, currency: 'USD', reference: 'x' }, alice.token, { 'Idempotency-Key': newId() })).status).toBe(404);
    expect((await api('POST', '/v1/admin/deposits', { accountId: from, amount: 1, currency: 'USD', reference: 'x' }, operatorToken)).body).toMatchObject({ status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED' });
    expect(await balance(alice, from)).toEqual({ posted: 100_000, pending: 0, available: 100_000 });
  });

  it('moves money: 201 with the completed payment when asked to wait, visible to both owners and nobody else', async () => {
    const res = await pay(alice, { sourceAccountId: from, destinationAccountId: to, amount: 2_500, description: 'rent' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ sourceAccountId: from, destinationAccountId: to, amount: 2_500, currency: 'USD', description: 'rent', status: 'completed', failureCode: null });
    expect(res.body!.completedAt).toEqual(expect.any(String));
    const id = res.body!.id as string;
    expect(await balance(alice, from)).toEqual({ posted: 97_500, pending: 0, available: 97_500 });
    expect(await balance(bob, to)).toEqual({ posted: 2_500, pending: 0, available: 2_500 });
    expect((await api('GET', `/v1/payments/${id}`, undefined, bob.token)).body).toMatchObject({ id, status: 'completed' });
    expect((await api('GET', `/v1/payments/${id}`, undefined, stranger.token)).status).toBe(404);
    const statement = await api('GET', `/v1/accounts/${to}/transactions`, undefined, bob.token);
    expect((statement.body!.data as Record<string, unknown>[])[0]).toMatchObject({ paymentId: id, direction: 'credit', amount: 2_500, status: 'posted', balanceAfter: 2_500 });
    const list = await api('GET', `/v1/payments?accountId=${from}&limit=1`, undefined, alice.token);
    expect(list.body).toMatchObject({ data: [{ id }] });
    expect((await api('GET', `/v1/payments?accountId=${from}`, undefined, stranger.token)).status).toBe(404);
  });

  it('answers 202 pending without a wait, and the payment completes', async () => {
    const res = await pay(alice, { sourceAccountId: from, destinationAccountId: to, amount: 500 }, newId(), 0);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending', failureCode: null, completedAt: null });
    expect(await settled(alice, res.body!.id as string)).toMatchObject({ status: 'completed' });
  });

  it('fails with INSUFFICIENT_FUNDS, and holds nothing', async () => {
    const before = await balance(alice, from);
    const res = await pay(alice, { sourceAccountId: from, destinationAccountId: to, amount: 10_000_000 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'failed', failureCode: 'INSUFFICIENT_FUNDS' });
    expect(await balance(alice, from)).toEqual(before);
  });

  it('refuses bad input with a clear error and changes nothing', async () => {
    const before = await balance(alice, from);
    const eur = await account(alice, 'EUR');
    const cases: [Record<string, unknown>, number, string][] = [
      [{ sourceAccountId: from, destinationAccountId: to, amount: '100' }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: from, destinationAccountId: to, amount: 1.5 }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: from, destinationAccountId: to, amount: 0 }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: from, destinationAccountId: to, amount: -5 }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: from, destinationAccountId: to, amount: 2 ** 53 }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: from, destinationAccountId: to, amount: 1, currency: 'XXX' }, 400, 'UNSUPPORTED_CURRENCY'],
      [{ sourceAccountId: from, destinationAccountId: from, amount: 1 }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: 'nope', destinationAccountId: to, amount: 1 }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: from, destinationAccountId: to, amount: 1, extra: true }, 400, 'VALIDATION_FAILED'],
      [{ sourceAccountId: to, destinationAccountId: from, amount: 1 }, 404, 'NOT_FOUND'],
      [{ sourceAccountId: from, destinationAccountId: newId(), amount: 1 }, 404, 'NOT_FOUND'],
      [{ sourceAccountId: from, destinationAccountId: eur, amount: 1 }, 422, 'CURRENCY_MISMATCH'],
    ];
    for (const [body, status, code] of cases) {
      const res = await pay(alice, body, newId(), 0);
      expect([JSON.stringify(body), res.status, res.body?.code]).toEqual([JSON.stringify(body), status, code]);
    }
    const noKey = await api('POST', '/v1/payments', { sourceAccountId: from, destinationAccountId: to, amount: 1, currency: 'USD' }, alice.token);
    expect(noKey.body).toMatchObject({ status: 400, code: 'IDEMPOTENCY_KEY_REQUIRED' });
    expect(await balance(alice, from)).toEqual(before);
  });

  it('replays a key with the original answer, refuses it with another body, and makes one payment of 50 concurrent requests', async () => {
    const key = newId();
    const body = { sourceAccountId: from, destinationAccountId: to, amount: 100 };
    const first = await pay(alice, body, key, 0);
    expect(first.status).toBe(202);
    const again = await pay(alice, body, key, 0);
    expect([again.status, again.headers.get('idempotent-replayed'), again.body]).toEqual([202, 'true', first.body]);
    expect((await pay(alice, { ...body, amount: 101 }, key, 0)).body).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    await settled(alice, first.body!.id as string);

    const before = await balance(alice, from);
    const burstKey = newId();
    const burst = await Promise.all(Array.from({ length: 50 }, () => pay(alice, { ...body, amount: 7 }, burstKey, 0)));
    const ids = new Set(burst.filter((r) => r.status === 202).map((r) => r.body!.id));
    expect(ids.size).toBe(1);
    // Every answer is the payment (202) or "the first is still running" (409 with Retry-After).
    for (const r of burst) {
      expect([202, 409]).toContain(r.status);
      if (r.status === 409) expect(r.headers.get('retry-after')).toBe('1');
    }
    const [id] = [...ids] as string[];
    expect(await settled(alice, id!)).toMatchObject({ status: 'completed' });
    expect((await balance(alice, from)).posted).toBe(before.posted - 7);
    const page = await api('GET', `/v1/payments?accountId=${from}&limit=100`, undefined, alice.token);
    expect((page.body!.data as { amount: number }[]).filter((p) => p.amount === 7)).toHaveLength(1);
  });

  it('fails a payment to a frozen account with ACCOUNT_FROZEN and gives the money back', async () => {
    const carol = await signUpCustomer(bank.url);
    const frozen = await account(carol);
    expect((await api('POST', `/v1/admin/accounts/${frozen}/freeze`, { reason: 'fraud check' }, operatorToken)).body).toMatchObject({ status: 'frozen' });
    // The freeze reaches the ledger (and payments) by event; once the ledger has it, the capture
    // is refused even if the check still saw the account active.
    await waitFor(async () => {
      const { accounts } = await caller.unary<ledgerV1.LookupAccountsResponse>((md, o, cb) => ledger.lookupAccounts({ ids: [frozen] }, md, o, cb));
      return accounts[0]?.state === ledgerV1.AccountState.ACCOUNT_STATE_FROZEN;
    }, SETTLE_MS, 100);
    const before = await balance(alice, from);
    const res = await pay(alice, { sourceAccountId: from, destinationAccountId: frozen, amount: 1_000 });
    expect(res.body).toMatchObject({ failureCode: 'ACCOUNT_FROZEN' });
    expect(res.body).toMatchObject({ status: 'failed' });
    expect(await balance(alice, from)).toEqual(before);
    expect((await balance(carol, frozen)).posted).toBe(0);
  });

  it('refuses past the daily limit with LIMIT_EXCEEDED, voiding the hold', async () => {
    const dave = await signUpCustomer(bank.url);
    const rich = await account(dave);
    expect((await deposit(rich, DAILY_LIMIT * 2)).status).toBe(201);
    const first = await pay(dave, { sourceAccountId: rich, destinationAccountId: to, amount: DAILY_LIMIT - 100 });
    expect(first.body).toMatchObject({ status: 'completed' });
    const second = await pay(dave, { sourceAccountId: rich, destinationAccountId: to, amount: 200 });
    expect(second.body).toMatchObject({ status: 'failed', failureCode: 'LIMIT_EXCEEDED' });
    expect(await balance(dave, rich)).toEqual({ posted: DAILY_LIMIT + 100, pending: 0, available: DAILY_LIMIT + 100 });
    expect((await pay(dave, { sourceAccountId: rich, destinationAccountId: to, amount: 100 })).body).toMatchObject({ status: 'completed' });
  });

  it('accepts payments while the ledger is frozen, cancels one, and finishes the other when it thaws', async () => {
    const before = await balance(alice, from);
    const toBefore = await balance(bob, to);
    await bank.signal('ledger', 'SIGSTOP');
    let kept: ApiReply;
    let cancelled: ApiReply;
    try {
      kept = await pay(alice, { sourceAccountId: from, destinationAccountId: to, amount: 300 }, newId(), 0);
      const dropped = await pay(alice, { sourceAccountId: from, destinationAccountId: to, amount: 400 }, newId(), 0);
      expect([kept.status, dropped.status]).toEqual([202, 202]);
      cancelled = await api('POST', `/v1/payments/${dropped.body!.id as string}/cancel`, undefined, alice.token);
      expect(cancelled.status).toBe(200);
      expect(['pending', 'cancelled']).toContain(cancelled.body!.status);
    } finally {
      await bank.signal('ledger', 'SIGCONT');
    }
    expect(await settled(alice, kept.body!.id as string)).toMatchObject({ status: 'completed' });
    expect(await settled(alice, cancelled.body!.id as string)).toMatchObject({ status: 'cancelled', failureCode: null });
    expect((await api('POST', `/v1/payments/${kept.body!.id as string}/cancel`, undefined, alice.token)).body).toMatchObject({ status: 409, code: 'PAYMENT_NOT_CANCELLABLE' });
    expect(await balance(alice, from)).toEqual({ posted: before.posted - 300, pending: 0, available: before.posted - 300 });
    expect((await balance(bob, to)).posted).toBe(toBefore.posted + 300);
    await ledgerIsSound();
    expect(bank.exits).toEqual([]);
  }, 90_000);
});
