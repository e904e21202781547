import { DomainError, ManualClock, newId, type Caller } from '@bank/kernel';
import { FakePaymentLedger, InMemoryAccountDirectory, InMemoryPaymentStore } from '@bank/testkit';
import { MAX_COMPENSATION_ATTEMPTS, MAX_STEP_ATTEMPTS, STEP_RETRY_MAX_MS } from './saga';
import { paymentTransferIds } from './model';
import { Payments, type PaymentInput } from './payments';
import { Waiters } from './waiters';

const alice: Caller = { userId: newId(), roles: ['customer'] };
const bob: Caller = { userId: newId(), roles: ['customer'] };
const stranger: Caller = { userId: newId(), roles: ['customer'] };
const operator: Caller = { userId: newId(), roles: ['customer', 'operator'] };

function setUp(opts: { dailyLimitMinor?: bigint } = {}) {
  const store = new InMemoryPaymentStore();
  const ledger = new FakePaymentLedger();
  const accounts = new InMemoryAccountDirectory();
  const clock = new ManualClock(Date.UTC(2026, 11, 1, 12));
  const errors: unknown[] = [];
  const payments = new Payments(store, ledger, accounts, clock, new Waiters(), { holdTimeoutSeconds: 600, dailyLimitMinor: opts.dailyLimitMinor ?? 1_000_000n, onDriveError: (_id, e) => errors.push(e) });
  const from = newId();
  const to = newId();
  accounts.add({ id: from, ownerId: alice.userId as string, currency: 'USD', state: 'active' });
  accounts.add({ id: to, ownerId: bob.userId as string, currency: 'USD', state: 'active' });
  ledger.balances.set(from, 10_000n);
  const input = (patch: Partial<PaymentInput> = {}): PaymentInput => ({ idempotencyKey: newId(), sourceAccountId: from, destinationAccountId: to, amount: 2_500n, currency: 'USD', description: 'rent', waitSeconds: 0, ...patch });
  return { store, ledger, accounts, clock, payments, from, to, input, errors };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    if (e instanceof DomainError) return e.code;
    throw e;
  }
}

describe('a payment saga over a ledger that answers', () => {
  it('holds, checks and captures: the money moves once, the hold is gone, payment.completed is written', async () => {
    const { payments, ledger, store, input, from, to } = setUp();
    const created = await payments.create(alice, input());
    expect(created).toMatchObject({ finished: false, replayed: false, payment: { status: 'pending', amount: 2_500n, failureCode: null } });
    const done = await payments.drive(created.payment.id);
    expect(done).toMatchObject({ status: 'completed', step: 'captured', failureCode: null });
    expect(Object.keys(done!.stepTimes)).toEqual(['accepted', 'hold_placed', 'checked', 'captured']);
    expect([ledger.balances.get(from), ledger.balances.get(to), ledger.openHolds()]).toEqual([7_500n, 2_500n, 0]);
    expect(store.events.map((e) => e.type)).toEqual(['payment.requested', 'payment.completed']);
  });

  it('answers a create with Prefer: wait once the saga ended, woken rather than polled', async () => {
    const { payments, input } = setUp();
    const created = await payments.create(alice, input({ waitSeconds: 5 }));
    expect(created).toMatchObject({ finished: true, payment: { status: 'completed' } });
    expect(payments.waiters.size).toBe(0);
  });

  it('fails with INSUFFICIENT_FUNDS when the hold is refused; nothing is held or moved', async () => {
    const { payments, ledger, input, from, store } = setUp();
    const { payment } = await payments.create(alice, input({ amount: 10_001n }));
    expect(await payments.drive(payment.id)).toMatchObject({ status: 'failed', failureCode: 'INSUFFICIENT_FUNDS', step: 'compensated' });
    expect([ledger.balances.get(from), ledger.openHolds()]).toEqual([10_000n, 0]);
    // The ledger keeps no record of a refusal: the barrier took the hold's id, so a repeat of the
    // hold (another replica's late drive) after money arrived holds nothing.
    expect(ledger.calls.map((c) => c.op)).toEqual(['hold', 'barrier']);
    ledger.balances.set(from, 1_000_000n);
    expect(await ledger.hold((await store.getPayment(payment.id))!, paymentTransferIds(payment.id).hold)).toBe('exists_with_different_debit_account_id');
    expect(ledger.openHolds()).toBe(0);
  });

  it('voids the hold when the destination is frozen by the time of the check: the money goes back', async () => {
    const { payments, ledger, accounts, input, from, to } = setUp();
    accounts.add({ ...accounts.accounts.get(to)!, state: 'frozen' });
    const { payment } = await payments.create(alice, input());
    expect(await payments.drive(payment.id)).toMatchObject({ status: 'failed', failureCode: 'ACCOUNT_FROZEN' });
    expect(ledger.calls.map((c) => c.op)).toEqual(['hold', 'void']);
    expect([ledger.balances.get(from), ledger.balances.get(to) ?? 0n, ledger.openHolds()]).toEqual([10_000n, 0n, 0]);
  });

  it('refuses past the daily limit per user and currency with LIMIT_EXCEEDED, and gives back what a failed payment reserved', async () => {
    const { payments, ledger, input, from } = setUp({ dailyLimitMinor: 5_000n });
    const first = await payments.create(alice, input({ amount: 3_000n }));
    expect((await payments.drive(first.payment.id))?.status).toBe('completed');
    const second = await payments.create(alice, input({ amount: 3_000n }));
    expect(await payments.drive(second.payment.id)).toMatchObject({ status: 'failed', failureCode: 'LIMIT_EXCEEDED' });
    expect([ledger.balances.get(from), ledger.openHolds()]).toEqual([7_000n, 0]);
    // A capture refused after the check releases its reservation: 2,000 is still there to spend.
    ledger.forced.set('capture', 'credit_account_closed');
    const third = await payments.create(alice, input({ amount: 2_000n }));
    expect(await payments.drive(third.payment.id)).toMatchObject({ status: 'failed', failureCode: 'ACCOUNT_CLOSED' });
    const fourth = await payments.create(alice, input({ amount: 2_000n }));
    expect((await payments.drive(fourth.payment.id))?.status).toBe('completed');
  });

  it('saves a placed hold and its check as one transition, and a refusal at the check voids that hold', async () => {
    const { payments, ledger, store, input, from } = setUp({ dailyLimitMinor: 2_000n });
    const saves: string[] = [];
    const save = store.savePayment.bind(store);
    store.savePayment = (before, after, limit) => (saves.push(`${before.step}>${after.step}`), save(before, after, limit));
    const ok = await payments.create(alice, input({ amount: 1_000n }));
    expect((await payments.drive(ok.payment.id))?.status).toBe('completed');
    expect(saves).toEqual(['accepted>checked', 'checked>captured']);
    saves.length = 0;
    const over = await payments.create(alice, input({ amount: 1_500n }));
    expect(await payments.drive(over.payment.id)).toMatchObject({ status: 'failed', failureCode: 'LIMIT_EXCEEDED' });
    // The refused reservation saves nothing; the compensation knows its hold and voids it (no barrier).
    expect(saves).toEqual(['accepted>checked', 'accepted>compensating', 'compensating>compensated']);
    expect(ledger.calls.filter((c) => c.paymentId === over.payment.id).map((c) => c.op)).toEqual(['hold', 'void']);
    expect([ledger.balances.get(from), ledger.openHolds()]).toEqual([9_000n, 0]);
  });

  it('takes the ledger as the arbiter: a void that finds the hold posted completes the payment', async () => {
    const { payments, ledger, input } = setUp();
    const { payment } = await payments.create(alice, input());
    await payments.drive(payment.id);
    ledger.forced.set('capture', 'pending_transfer_expired');
    const expired = await payments.create(alice, input());
    expect(await payments.drive(expired.payment.id)).toMatchObject({ status: 'failed', failureCode: 'HOLD_EXPIRED' });
  });
});

describe('idempotency keys', () => {
  it('answers the same key and body with the original answer, a changed body with IDEMPOTENCY_KEY_REUSED', async () => {
    const { payments, store, input } = setUp();
    const request = input();
    const first = await payments.create(alice, request);
    const again = await payments.create(alice, { ...request });
    expect(again).toEqual({ ...first, replayed: true });
    expect(await codeOf(payments.create(alice, { ...request, amount: 1n }))).toBe('IDEMPOTENCY_KEY_REUSED');
    // Keys are per user: Bob's same key is his own.
    expect(await codeOf(payments.create(bob, { ...request }))).toBe('NOT_FOUND');
    expect([...store.payments.values()]).toHaveLength(1);
  });

  it('makes one payment and one hold of 50 concurrent requests with one key', async () => {
    const { payments, store, ledger, input } = setUp();
    const request = input();
    const answers = await Promise.all(Array.from({ length: 50 }, () => payments.create(alice, { ...request })));
    expect(new Set(answers.map((a) => a.payment.id)).size).toBe(1);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    await payments.drive(answers[0]!.payment.id);
    expect(store.payments.size).toBe(1);
    expect(ledger.calls.filter((c) => c.op === 'hold')).toHaveLength(1);
  });

  it('answers IDEMPOTENCY_KEY_IN_USE while the first request still waits, with a Retry-After', async () => {
    const { payments, ledger, input } = setUp();
    ledger.unreachable = true;
    const request = input({ waitSeconds: 1 });
    const first = payments.create(alice, request);
    await new Promise((r) => setImmediate(r));
    const err = await payments.create(alice, { ...request }).catch((e: DomainError) => e);
    expect(err).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE', details: { retryAfterSeconds: expect.any(Number) } });
    expect((await first).finished).toBe(false);
  });

  it('refuses a malformed key, amounts that are not 1..2^53-1, an unknown currency and paying oneself', async () => {
    const { payments, input, from } = setUp();
    expect(await codeOf(payments.create(alice, input({ idempotencyKey: '' })))).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect(await codeOf(payments.create(alice, input({ idempotencyKey: 'ü' })))).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect(await codeOf(payments.create(alice, input({ amount: 0n })))).toBe('INVALID_AMOUNT');
    expect(await codeOf(payments.create(alice, input({ amount: 2n ** 53n })))).toBe('INVALID_AMOUNT');
    expect(await codeOf(payments.create(alice, input({ currency: 'XXX' })))).toBe('UNSUPPORTED_CURRENCY');
    expect(await codeOf(payments.create(alice, input({ currency: 'EUR' })))).toBe('CURRENCY_MISMATCH');
    expect(await codeOf(payments.create(alice, input({ destinationAccountId: from })))).toBe('VALIDATION_FAILED');
    expect(await codeOf(payments.create(alice, input({ destinationAccountId: newId() })))).toBe('NOT_FOUND');
    expect(await codeOf(payments.create(stranger, input()))).toBe('NOT_FOUND');
  });
});

describe("an operator's tool (bank-cli: the operator's grant, no user)", () => {
  const tool: Caller = { userId: undefined, roles: ['operator'] };

  it("pays from any customer's account on their behalf: the payment is the customer's, the key the tool's", async () => {
    const { payments, input, from, ledger, to } = setUp();
    const request = input({ idempotencyKey: 'bank-cli:refund-1' });
    const created = await payments.create(tool, request);
    await payments.drive(created.payment.id);
    expect([ledger.balances.get(from), ledger.balances.get(to)]).toEqual([7_500n, 2_500n]);
    // Alice sees it as hers; the same key from the tool answers with it again.
    expect(await payments.get(alice, created.payment.id)).toMatchObject({ status: 'completed', sourceAccountId: from });
    expect(await payments.create(tool, request)).toMatchObject({ replayed: true, payment: { id: created.payment.id } });
    // Alice's own key of the same name is hers, a payment of its own.
    expect((await payments.create(alice, request)).payment.id).not.toBe(created.payment.id);
  });

  it('deposits, and is refused without the grant', async () => {
    const { payments, from } = setUp();
    const { deposit } = await payments.deposit(tool, { idempotencyKey: 'seed-deposit-1', accountId: from, amount: 100n, currency: 'USD', reference: 'seed' });
    expect(deposit).toMatchObject({ status: 'completed', amount: 100n });
    const nobody: Caller = { userId: undefined, roles: [] };
    expect(await codeOf(payments.create(nobody, setUp().input()))).toBe('UNAUTHENTICATED');
    expect(await codeOf(payments.deposit(nobody, { idempotencyKey: 'k', accountId: from, amount: 1n, currency: 'USD', reference: 'x' }))).toBe('UNAUTHENTICATED');
  });
});

describe('cancel and the barrier', () => {
  it('cancels before the capture (the hold is voided) and refuses once captured', async () => {
    const { payments, ledger, input, from } = setUp();
    const done = await payments.create(alice, input());
    await payments.drive(done.payment.id);
    expect(await codeOf(payments.cancel(alice, done.payment.id))).toBe('PAYMENT_NOT_CANCELLABLE');

    ledger.unreachable = true;
    const { payment } = await payments.create(alice, input());
    await payments.drive(payment.id);
    ledger.unreachable = false;
    const cancelled = await payments.cancel(alice, payment.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', failureCode: null });
    expect(ledger.openHolds()).toBe(0);
    // Only the first, completed payment left the account.
    expect(ledger.balances.get(from)).toBe(7_500n);
    expect(await payments.cancel(alice, payment.id)).toMatchObject({ status: 'cancelled' });
    expect(await codeOf(payments.cancel(bob, payment.id))).toBe('NOT_FOUND');
  });

  it('makes a hold that arrives after its compensation a no-op: the barrier took its id', async () => {
    const { payments, ledger, input, from } = setUp();
    ledger.unreachable = true;
    const { payment } = await payments.create(alice, input());
    await payments.drive(payment.id);
    ledger.unreachable = false;
    // The cancel compensates before any hold was placed: it places the barrier.
    expect(await payments.cancel(alice, payment.id)).toMatchObject({ status: 'cancelled' });
    expect(ledger.calls.map((c) => c.op).slice(-1)).toEqual(['barrier']);
    // The first, lost hold request now reaches the ledger: it finds the id taken and holds nothing.
    const late = await ledger.hold({ ...(await payments.drive(payment.id))!, step: 'accepted' }, paymentTransferIds(payment.id).hold);
    expect(late).toBe('exists_with_different_debit_account_id');
    expect([ledger.balances.get(from), ledger.openHolds()]).toEqual([10_000n, 0]);
  });

  it('voids a hold that got there before the barrier', async () => {
    const { payments, ledger, store, input, from } = setUp();
    ledger.unreachable = true;
    const { payment } = await payments.create(alice, input());
    await payments.drive(payment.id);
    ledger.unreachable = false;
    // The hold reached the ledger after all; only its reply was lost (the saga still says accepted).
    expect(await ledger.hold((await store.getPayment(payment.id))!, paymentTransferIds(payment.id).hold)).toBe('ok');
    expect(ledger.balances.get(from)).toBe(7_500n);
    expect(await payments.cancel(alice, payment.id)).toMatchObject({ status: 'cancelled' });
    expect(ledger.calls.map((c) => c.op).slice(-2)).toEqual(['barrier', 'void']);
    expect([ledger.balances.get(from), ledger.openHolds()]).toEqual([10_000n, 0]);
  });
});

describe('a ledger that does not answer', () => {
  it('keeps an accepted payment pending and finishes it when the ledger returns', async () => {
    const { payments, ledger, clock, input, store } = setUp();
    ledger.unreachable = true;
    const { payment } = await payments.create(alice, input());
    expect(await payments.drive(payment.id)).toMatchObject({ status: 'pending', step: 'accepted', attempts: 1 });
    expect(await store.duePayments(clock.now(), 10)).toEqual([]);
    clock.advance(STEP_RETRY_MAX_MS);
    expect(await store.duePayments(clock.now(), 10)).toEqual([payment.id]);
    ledger.unreachable = false;
    expect(await payments.sweep()).toMatchObject({ payments: 1 });
    expect((await store.getPayment(payment.id))?.status).toBe('completed');
  });

  it('compensates after the last forward attempt, and parks a compensation that keeps failing for an operator', async () => {
    const { payments, ledger, clock, input, store, from } = setUp();
    // The hold is placed, then the ledger stops answering before the capture.
    ledger.unreachableOps.add('capture').add('void').add('barrier');
    const { payment } = await payments.create(alice, input());
    expect(await payments.drive(payment.id)).toMatchObject({ step: 'checked', attempts: 1 });
    for (let i = 0; i < MAX_STEP_ATTEMPTS + MAX_COMPENSATION_ATTEMPTS; i++) {
      clock.advance(STEP_RETRY_MAX_MS);
      await payments.sweep();
    }
    const parked = await store.getPayment(payment.id);
    expect(parked).toMatchObject({ step: 'needs_attention', status: 'pending', failureCode: 'LEDGER_UNAVAILABLE' });
    expect(ledger.calls.filter((c) => c.op === 'capture')).toHaveLength(MAX_STEP_ATTEMPTS);
    expect(ledger.calls.filter((c) => c.op === 'void')).toHaveLength(MAX_COMPENSATION_ATTEMPTS);
    // Parked sagas are left to the operator: the sweeper no longer takes them. The money stays held.
    expect(await store.duePayments(new Date(clock.now().getTime() + 3_600_000), 10)).toEqual([]);
    expect([ledger.balances.get(from), ledger.openHolds()]).toEqual([7_500n, 1]);
  });
});

describe('reads', () => {
  it('shows a payment to both owners and operators, to anyone else it does not exist; lists newest first', async () => {
    const { payments, input, from, clock } = setUp();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await payments.create(alice, input({ amount: BigInt(i + 1) }))).payment.id);
      clock.advance(1);
    }
    expect((await payments.get(bob, ids[0]!)).id).toBe(ids[0]);
    expect((await payments.get(operator, ids[0]!)).id).toBe(ids[0]);
    expect(await codeOf(payments.get(stranger, ids[0]!))).toBe('NOT_FOUND');
    const page1 = await payments.list(alice, from, 2, '');
    expect(page1.payments.map((p) => p.id)).toEqual([ids[2], ids[1]]);
    const page2 = await payments.list(alice, from, 2, page1.nextCursor);
    expect(page2).toMatchObject({ payments: [{ id: ids[0] }], nextCursor: '' });
    expect(await codeOf(payments.list(stranger, from, 2, ''))).toBe('NOT_FOUND');
  });
});

describe('deposits', () => {
  it('lets an operator deposit once per key, and answers a refusal the same way again', async () => {
    const { payments, ledger, store, to } = setUp();
    const request = { idempotencyKey: 'dep-1', accountId: to, amount: 5_000n, currency: 'USD', reference: 'cash' };
    const first = await payments.deposit(operator, request);
    expect(first).toMatchObject({ replayed: false, deposit: { accountId: to, amount: 5_000n, status: 'completed' } });
    expect(await payments.deposit(operator, { ...request })).toEqual({ ...first, replayed: true });
    expect(ledger.balances.get(to)).toBe(5_000n);
    expect(store.events.filter((e) => e.type === 'deposit.completed')).toHaveLength(1);
    expect(await codeOf(payments.deposit(alice, { ...request, idempotencyKey: 'dep-2' }))).toBe('NOT_FOUND');
    ledger.frozen.add(to);
    expect(await codeOf(payments.deposit(operator, { ...request, idempotencyKey: 'dep-3' }))).toBe('ACCOUNT_FROZEN');
    expect(await codeOf(payments.deposit(operator, { ...request, idempotencyKey: 'dep-3' }))).toBe('ACCOUNT_FROZEN');
    expect(await codeOf(payments.deposit(operator, { ...request, idempotencyKey: 'dep-1', amount: 1n }))).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(ledger.balances.get(to)).toBe(5_000n);
  });
});
