import { newId } from '@bank/kernel';
import { STEP_DEADLINE_MS, type Deposit, type IdempotencyRecord, type Payment, type PaymentStore } from '@bank/payments-core';

const T0 = Date.UTC(2026, 11, 1, 9);

export function paymentFixture(patch: Partial<Payment> = {}): Payment {
  const createdAt = new Date(T0);
  return {
    id: newId(T0),
    initiatorId: newId(),
    sourceAccountId: newId(),
    destinationAccountId: newId(),
    destinationOwnerId: newId(),
    amount: 1_000n,
    currency: 'USD',
    description: 'rent',
    status: 'pending',
    failureCode: null,
    step: 'accepted',
    stepTimes: { accepted: createdAt.toISOString() },
    attempts: 0,
    deadlineAt: new Date(T0 + STEP_DEADLINE_MS),
    holdExpiresAt: null,
    cancelRequested: false,
    createdAt,
    completedAt: null,
    version: 0,
    ...patch,
  };
}

function recordFor(userId: string, resourceId: string, patch: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  return { userId, scope: 'payment', key: `key-${newId()}`, fingerprint: 'f1', resourceId, responseStatus: 202, responseBody: { id: resourceId }, lockedUntil: new Date(T0 + 10_000), createdAt: new Date(T0), ...patch };
}

/** What every PaymentStore does, run against the in-memory fake and the PostgreSQL adapter alike. */
export function paymentStoreContract(name: string, open: () => Promise<PaymentStore>, close: () => Promise<void>): void {
  describe(`PaymentStore contract: ${name}`, () => {
    let store: PaymentStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(close);

    it('creates a payment with its key once; the same key answers the first record', async () => {
      const p = paymentFixture();
      const record = recordFor(p.initiatorId, p.id);
      expect(await store.createPayment(p, record)).toEqual({ created: true });
      const other = paymentFixture({ initiatorId: p.initiatorId });
      const again = await store.createPayment(other, { ...record, resourceId: other.id });
      expect(again).toMatchObject({ created: false, existing: { resourceId: p.id, fingerprint: 'f1', responseStatus: 202 } });
      expect(await store.getPayment(other.id)).toBeUndefined();
      expect(await store.getPayment(p.id)).toMatchObject({ id: p.id, amount: 1_000n, step: 'accepted', version: 1, stepTimes: p.stepTimes, createdAt: p.createdAt });
      // An answer recorded at creation stays; an open one is recorded once, and the first answer stays.
      await store.completeIdempotency(p.initiatorId, 'payment', record.key, 201, { id: p.id, status: 'completed' });
      expect(await store.getIdempotency(p.initiatorId, 'payment', record.key)).toMatchObject({ responseStatus: 202 });
      const waiting = paymentFixture();
      const open = recordFor(waiting.initiatorId, waiting.id, { responseStatus: null, responseBody: null });
      await store.createPayment(waiting, open);
      await store.completeIdempotency(waiting.initiatorId, 'payment', open.key, 201, { id: waiting.id, status: 'completed' });
      await store.completeIdempotency(waiting.initiatorId, 'payment', open.key, 202, { id: waiting.id, status: 'pending' });
      expect(await store.getIdempotency(waiting.initiatorId, 'payment', open.key)).toMatchObject({ responseStatus: 201, responseBody: { id: waiting.id, status: 'completed' } });
    });

    it('saves a transition only on the version it read', async () => {
      const p = paymentFixture();
      await store.createPayment(p, recordFor(p.initiatorId, p.id));
      const v1 = (await store.getPayment(p.id)) as Payment;
      const held = { ...v1, step: 'hold_placed' as const, stepTimes: { ...v1.stepTimes, hold_placed: new Date(T0 + 5).toISOString() } };
      expect(await store.savePayment(v1, held, 10_000n)).toBe('saved');
      expect(await store.savePayment(v1, { ...v1, step: 'compensating' }, 10_000n)).toBe('conflict');
      expect(await store.getPayment(p.id)).toMatchObject({ step: 'hold_placed', version: 2, stepTimes: held.stepTimes });
    });

    it('reserves the daily total at the check and refuses past the limit; a compensation after the check gives it back', async () => {
      const owner = newId();
      const checkOne = async (amount: bigint) => {
        const p = paymentFixture({ initiatorId: owner, amount, step: 'hold_placed' });
        await store.createPayment(p, recordFor(owner, p.id));
        const v1 = (await store.getPayment(p.id)) as Payment;
        const checked = { ...v1, step: 'checked' as const, stepTimes: { ...v1.stepTimes, checked: new Date(T0).toISOString() } };
        return { v1, checked, outcome: await store.savePayment(v1, checked, 5_000n) };
      };
      const first = await checkOne(3_000n);
      expect(first.outcome).toBe('saved');
      const second = await checkOne(3_000n);
      expect(second.outcome).toBe('limit_exceeded');
      expect((await store.getPayment(second.v1.id))?.step).toBe('hold_placed');
      const v2 = { ...first.checked, version: 2 };
      expect(await store.savePayment(v2, { ...v2, step: 'compensated', status: 'failed', failureCode: 'ACCOUNT_CLOSED' }, 5_000n)).toBe('saved');
      expect((await checkOne(5_000n)).outcome).toBe('saved');
    });

    it('reserves once per transition under concurrency: racing checks of one owner fit the limit, a payment raced with itself counts once', async () => {
      const owner = newId();
      const heldPayment = async (amount: bigint) => {
        const p = paymentFixture({ initiatorId: owner, amount, step: 'hold_placed' });
        await store.createPayment(p, recordFor(owner, p.id));
        return (await store.getPayment(p.id)) as Payment;
      };
      const checked = (v1: Payment): Payment => ({ ...v1, step: 'checked', stepTimes: { ...v1.stepTimes, checked: new Date(T0).toISOString() } });
      const held = await Promise.all(Array.from({ length: 8 }, () => heldPayment(1_000n)));
      const outcomes = await Promise.all(held.map((v1) => store.savePayment(v1, checked(v1), 5_000n)));
      expect(outcomes.filter((o) => o === 'saved')).toHaveLength(5);
      expect(outcomes.filter((o) => o === 'limit_exceeded')).toHaveLength(3);
      const refused = held.filter((_, i) => outcomes[i] === 'limit_exceeded');
      for (const v1 of refused) expect(await store.getPayment(v1.id)).toMatchObject({ step: 'hold_placed', version: 1 });
      // A release of one reservation frees its amount; the same transition saved twice at once reserves once.
      const first = held[outcomes.indexOf('saved')] as Payment;
      expect(await store.savePayment({ ...checked(first), version: 2 }, { ...checked(first), version: 2, step: 'compensated', status: 'failed', failureCode: 'ACCOUNT_CLOSED' }, 5_000n)).toBe('saved');
      const twice = refused[0] as Payment;
      expect((await Promise.all([store.savePayment(twice, checked(twice), 5_000n), store.savePayment(twice, checked(twice), 5_000n)])).sort()).toEqual(['conflict', 'saved']);
      // 5 reserved, 1 released, 1 reserved once: the total is 5,000, so nothing more fits.
      const last = await heldPayment(1n);
      expect(await store.savePayment(last, checked(last), 5_000n)).toBe('limit_exceeded');
    });

    it('lists the payments of an account newest first, in pages', async () => {
      const account = newId();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const p = paymentFixture({ id: newId(T0 + i), createdAt: new Date(T0 + i), ...(i % 2 === 0 ? { sourceAccountId: account } : { destinationAccountId: account }) });
        await store.createPayment(p, recordFor(p.initiatorId, p.id));
        ids.push(p.id);
      }
      const first = await store.listPayments(account, 2, '');
      expect(first.payments.map((p) => p.id)).toEqual([ids[4], ids[3]]);
      const second = await store.listPayments(account, 2, first.nextCursor);
      expect(second.payments.map((p) => p.id)).toEqual([ids[2], ids[1]]);
      const last = await store.listPayments(account, 2, second.nextCursor);
      expect(last).toEqual({ payments: [expect.objectContaining({ id: ids[0] })], nextCursor: '' });
    });

    it('finds the sagas whose deadline passed, and never one that ended', async () => {
      const due = paymentFixture({ deadlineAt: new Date(T0 - 1) });
      const later = paymentFixture({ deadlineAt: new Date(T0 + 60_000) });
      const ended = paymentFixture({ deadlineAt: new Date(T0 - 1), step: 'captured', status: 'completed' });
      for (const p of [due, later, ended]) await store.createPayment(p, recordFor(p.initiatorId, p.id));
      const ids = await store.duePayments(new Date(T0), 1_000);
      expect(ids).toContain(due.id);
      expect(ids).not.toContain(later.id);
      expect(ids).not.toContain(ended.id);
    });

    it('finishes a deposit once, with its key answered, and purges old keys', async () => {
      const d: Deposit = { id: newId(), operatorId: newId(), accountId: newId(), ownerId: newId(), amount: 500n, currency: 'EUR', reference: 'cash', status: 'pending', failureCode: null, createdAt: new Date(T0) };
      const record: IdempotencyRecord = { ...recordFor(d.operatorId, d.id, { scope: 'deposit', responseStatus: null, responseBody: null }) };
      expect(await store.createDeposit(d, record)).toEqual({ created: true });
      expect(await store.pendingDeposits(new Date(T0 + 1), 100)).toContain(d.id);
      await store.finishDeposit({ ...d, status: 'completed' }, 201, { id: d.id });
      await store.finishDeposit({ ...d, status: 'failed', failureCode: 'ACCOUNT_FROZEN' }, 422, { code: 'ACCOUNT_FROZEN' });
      expect(await store.getDeposit(d.id)).toMatchObject({ status: 'completed', amount: 500n, failureCode: null });
      expect(await store.getIdempotency(d.operatorId, 'deposit', record.key)).toMatchObject({ responseStatus: 201, responseBody: { id: d.id } });
      expect(await store.pendingDeposits(new Date(T0 + 1), 100)).not.toContain(d.id);
      expect(await store.purgeIdempotency(new Date(T0 + 1), 1_000)).toBeGreaterThan(0);
      expect(await store.getIdempotency(d.operatorId, 'deposit', record.key)).toBeUndefined();
    });
  });
}
