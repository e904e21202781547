import { MAX_MINOR_UNITS, ManualClock, newId } from '@bank/kernel';
import { AccountFlags, Ledger, MAX_TIMEOUT_SECONDS, TransferFlags, systemAccountId, type LedgerStore, type TransferRequest } from '@bank/ledger-core';

export interface StoreUnderTest {
  store: LedgerStore;
  /** Called after each test; drops what the test wrote. */
  reset(): Promise<void>;
}

const BATCHING = { windowMs: 0, maxTransfers: 8_000, maxInFlight: 2, maxQueuedTransfers: 64_000, defaultTimeoutSeconds: 60 };

export function transferRequest(overrides: Partial<TransferRequest>): TransferRequest {
  return { id: newId(), debitAccountId: '', creditAccountId: '', amount: 0n, currency: 'USD', flags: 0, pendingId: '', timeoutSeconds: 0, reference: '', description: '', ...overrides };
}

/**
 * The behaviour every LedgerStore must show, run against the in-memory fake and the Postgres
 * adapter alike, through the Ledger use cases that depend on it.
 */
export function ledgerStoreContract(name: string, open: () => Promise<StoreUnderTest>, close: () => Promise<void>): void {
  describe(`LedgerStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let clock: ManualClock;
    let ledger: Ledger;
    const settlement = systemAccountId('USD', 'settlement');

    beforeAll(async () => {
      sut = await open();
    });
    afterAll(close);
    beforeEach(async () => {
      clock = new ManualClock(Date.UTC(2026, 5, 1));
      ledger = new Ledger(sut.store, clock, BATCHING);
      await ledger.ensureSystemAccounts(['USD', 'EUR']);
    });
    afterEach(() => sut.reset());

    async function customer(funded = 0n): Promise<string> {
      const id = newId();
      expect(await ledger.openCustomerAccount(id, 'USD', newId())).toBe('ok');
      if (funded > 0n) expect(await ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: id, amount: funded, description: 'deposit' })])).toEqual(['ok']);
      return id;
    }

    it('creates accounts idempotently and reports a conflicting re-creation', async () => {
      const id = newId();
      const owner = newId();
      expect(await ledger.openCustomerAccount(id, 'USD', owner)).toBe('ok');
      expect(await ledger.openCustomerAccount(id, 'USD', owner)).toBe('exists');
      expect(await ledger.openCustomerAccount(id, 'EUR', owner)).toBe('exists_with_different_fields');
      const results = await ledger.createAccounts([
        { id: 'nope', currency: 'USD', kind: 'customer', flags: 0, overdraftLimit: 0n, ownerId: null },
        { id: newId(), currency: 'ZZZ', kind: 'customer', flags: 0, overdraftLimit: 0n, ownerId: null },
        { id: newId(), currency: 'USD', kind: 'customer', flags: 3, overdraftLimit: 0n, ownerId: null },
        { id: newId(), currency: 'USD', kind: 'customer', flags: 1, overdraftLimit: -1n, ownerId: null },
        { id: newId(), currency: 'GBP', kind: 'customer', flags: 1, overdraftLimit: 500n, ownerId: null },
      ]);
      expect(results).toEqual(['invalid_id', 'invalid_currency', 'flags_are_mutually_exclusive', 'invalid_overdraft_limit', 'ok']);
      const [account] = await ledger.lookupAccounts([id]);
      expect(account).toMatchObject({ id, currency: 'USD', kind: 'customer', state: 'active', flags: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, ownerId: owner, debitsPosted: 0n });
    });

    it('stores transfers and balances exactly, and reads them back', async () => {
      const alice = await customer(10_000n);
      const bob = await customer();
      const t = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 2_550n, reference: 'pay-1', description: 'rent' });
      expect(await ledger.createTransfers([t])).toEqual(['ok']);
      expect(await ledger.createTransfers([{ ...t }, { ...t, amount: 1n }])).toEqual(['exists', 'exists_with_different_amount']);
      const [a, b] = await ledger.lookupAccounts([alice, bob]);
      expect([a?.creditsPosted, a?.debitsPosted, b?.creditsPosted]).toEqual([10_000n, 2_550n, 2_550n]);
      const view = await ledger.getTransfer(t.id);
      expect(view).toMatchObject({ status: 'posted', postedAmount: 2_550n, transfer: { id: t.id, debitAccountId: alice, creditAccountId: bob, amount: 2_550n, currency: 'USD', reference: 'pay-1', description: 'rent', pendingId: null } });
      await expect(ledger.getTransfer(newId())).rejects.toMatchObject({ code: 'TRANSFER_NOT_FOUND' });
    });

    it('keeps a hold and its capture as one statement line, newest first, paged by cursor', async () => {
      const alice = await customer(10_000n);
      const bob = await customer();
      clock.advance(1_000);
      const hold = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 3_000n, flags: TransferFlags.PENDING, reference: 'pay-2', description: 'held' });
      expect(await ledger.createTransfers([hold])).toEqual(['ok']);
      clock.advance(1_000);
      const small = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 100n, description: 'coffee' });
      expect(await ledger.createTransfers([small])).toEqual(['ok']);
      let page = await ledger.statement(alice, 10, '');
      expect(page.lines.map((l) => [l.transferId, l.status, l.side, l.amount, l.balanceAfter])).toEqual([
        [small.id, 'posted', 'debit', 100n, 9_900n],
        [hold.id, 'pending', 'debit', 3_000n, 10_000n],
        [expect.any(String), 'posted', 'credit', 10_000n, 10_000n],
      ]);
      clock.advance(1_000);
      expect(await ledger.createTransfers([transferRequest({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, amount: 2_000n, currency: '' })])).toEqual(['ok']);
      page = await ledger.statement(alice, 10, '');
      expect(page.lines.map((l) => [l.transferId, l.status, l.amount, l.balanceAfter, l.description])).toEqual([
        [hold.id, 'posted', 2_000n, 7_900n, 'held'],
        [small.id, 'posted', 100n, 9_900n, 'coffee'],
        [expect.any(String), 'posted', 10_000n, 10_000n, 'deposit'],
      ]);
      expect(page.nextCursor).toBe('');
      const posted = page.lines.filter((l) => l.status === 'posted').reduce((s, l) => s + (l.side === 'credit' ? l.amount : -l.amount), 0n);
      const [acct] = await ledger.lookupAccounts([alice]);
      expect(posted).toBe((acct?.creditsPosted ?? 0n) - (acct?.debitsPosted ?? 0n));
      const first = await ledger.statement(alice, 2, '');
      expect(first.lines).toHaveLength(2);
      expect(first.nextCursor).not.toBe('');
      const second = await ledger.statement(alice, 2, first.nextCursor);
      expect(second.lines.map((l) => l.description)).toEqual(['deposit']);
      expect(second.nextCursor).toBe('');
      // A cursor the list never handed out (not a sequence, or beyond a bigint) is the caller's mistake.
      for (const bad of ['abc', '-1', '9999999999999999999']) await expect(ledger.statement(alice, 2, bad)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { fields: [{ field: 'cursor' }] } });
      const voidedHold = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 50n, flags: TransferFlags.PENDING });
      await ledger.createTransfers([voidedHold]);
      await ledger.createTransfers([transferRequest({ flags: TransferFlags.VOID_PENDING, pendingId: voidedHold.id, currency: '' })]);
      const [top] = (await ledger.statement(alice, 1, '')).lines;
      expect(top).toMatchObject({ transferId: voidedHold.id, status: 'voided', amount: 50n, balanceAfter: 7_900n });
    });

    it('answers a replay with the id in upper case as the same transfer: ids are one form inside', async () => {
      const alice = await customer(5_000n);
      const bob = await customer();
      const t = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 700n });
      expect(await ledger.createTransfers([t])).toEqual(['ok']);
      const upper = { ...t, id: t.id.toUpperCase(), debitAccountId: alice.toUpperCase(), creditAccountId: bob.toUpperCase() };
      expect(await ledger.createTransfers([upper])).toEqual(['exists']);
      expect(await ledger.createTransfers([{ ...upper, amount: 701n }])).toEqual(['exists_with_different_amount']);
      expect((await ledger.getTransfer(t.id.toUpperCase())).transfer.id).toBe(t.id);
      const [a] = await ledger.lookupAccounts([alice.toUpperCase()]);
      expect(a?.debitsPosted).toBe(700n);
      expect((await ledger.statement(bob.toUpperCase(), 10, '')).lines).toHaveLength(1);
      const hold = transferRequest({ id: newId().toUpperCase(), debitAccountId: alice, creditAccountId: bob, amount: 100n, flags: TransferFlags.PENDING });
      expect(await ledger.createTransfers([hold])).toEqual(['ok']);
      expect(await ledger.createTransfers([transferRequest({ pendingId: hold.id, flags: TransferFlags.POST_PENDING })])).toEqual(['ok']);
      expect((await ledger.getTransfer(hold.id)).status).toBe('posted');
    });

    it('refuses alone a call whose timeout no transfer can carry; calls beside it go through', async () => {
      const alice = await customer(5_000n);
      const bob = await customer();
      const hold = (timeoutSeconds: number) => ledger.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 10n, flags: TransferFlags.PENDING, timeoutSeconds })]);
      const [before, tooLong, after] = await Promise.allSettled([hold(60), hold(2 ** 31), hold(MAX_TIMEOUT_SECONDS)]);
      expect(before).toEqual({ status: 'fulfilled', value: ['ok'] });
      expect(tooLong).toMatchObject({ status: 'rejected', reason: { code: 'VALIDATION_FAILED', details: { fields: [{ field: 'transfers[0].timeoutSeconds', message: `at most ${MAX_TIMEOUT_SECONDS}` }] } } });
      expect(after).toEqual({ status: 'fulfilled', value: ['ok'] });
      const [a] = await ledger.lookupAccounts([alice]);
      expect(a?.debitsPending).toBe(20n);
    });

    it('keeps an overdraft limit up to the largest amount, and checks it without overflowing', async () => {
      const id = newId();
      const [ok, tooBig] = await ledger.createAccounts([
        { id, currency: 'USD', kind: 'customer', flags: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, overdraftLimit: MAX_MINOR_UNITS, ownerId: null },
        { id: newId(), currency: 'USD', kind: 'customer', flags: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, overdraftLimit: MAX_MINOR_UNITS + 1n, ownerId: null },
      ]);
      expect([ok, tooBig]).toEqual(['ok', 'invalid_overdraft_limit']);
      const other = await customer();
      // Credits plus the limit pass 2^63 - 1 from the first credit on.
      expect(await ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: id, amount: 100n })])).toEqual(['ok']);
      expect(await ledger.createTransfers([transferRequest({ debitAccountId: id, creditAccountId: other, amount: 1_000n })])).toEqual(['ok']);
      const [a] = await ledger.lookupAccounts([id]);
      expect([a?.creditsPosted, a?.debitsPosted]).toEqual([100n, 1_000n]);
      expect((await ledger.verify()).violations).toEqual([]);
    });

    it('answers the balance at a point in time', async () => {
      const alice = await customer();
      const t0 = clock.now();
      clock.advance(10_000);
      await ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: alice, amount: 500n })]);
      const t1 = clock.now();
      clock.advance(10_000);
      await ledger.createTransfers([transferRequest({ debitAccountId: settlement, creditAccountId: alice, amount: 700n })]);
      expect((await ledger.balanceAt(alice, t0)).creditsPosted).toBe(0n);
      expect((await ledger.balanceAt(alice, t1)).creditsPosted).toBe(500n);
      expect((await ledger.balanceAt(alice, clock.now())).creditsPosted).toBe(1_200n);
      await expect(ledger.balanceAt(newId(), t1)).rejects.toMatchObject({ code: 'ACCOUNT_NOT_FOUND' });
    });

    it('expires holds whose timeout passed, once, when the clock moves', async () => {
      const alice = await customer(1_000n);
      const bob = await customer();
      const hold = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 400n, flags: TransferFlags.PENDING, timeoutSeconds: 30 });
      expect(await ledger.createTransfers([hold])).toEqual(['ok']);
      expect(await ledger.expireDueHolds()).toBe(0);
      clock.advance(30_000);
      expect(await ledger.expireDueHolds()).toBe(1);
      expect(await ledger.expireDueHolds()).toBe(0);
      const [a] = await ledger.lookupAccounts([alice]);
      expect(a?.debitsPending).toBe(0n);
      expect((await ledger.getTransfer(hold.id)).status).toBe('expired');
      expect(await ledger.createTransfers([transferRequest({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, currency: '' })])).toEqual(['pending_transfer_expired']);
      const [line] = (await ledger.statement(alice, 1, '')).lines;
      expect(line).toMatchObject({ transferId: hold.id, status: 'voided', amount: 400n });
    });

    it('settles a hold placed and posted in the same call: nothing is left for the sweeper', async () => {
      const alice = await customer(1_000n);
      const bob = await customer();
      const hold = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 300n, flags: TransferFlags.PENDING, timeoutSeconds: 5 });
      const post = transferRequest({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, currency: '' });
      expect(await ledger.createTransfers([hold, post])).toEqual(['ok', 'ok']);
      clock.advance(60_000);
      expect(await ledger.expireDueHolds()).toBe(0);
      expect((await ledger.getTransfer(hold.id)).status).toBe('posted');
      expect((await ledger.verify()).violations).toEqual([]);
    });

    it('enforces account state set from events', async () => {
      const alice = await customer(1_000n);
      const bob = await customer();
      expect(await ledger.setAccountState(alice, 'frozen', 5n)).toBe(true);
      expect(await ledger.setAccountState(newId(), 'frozen', 5n)).toBe(false);
      expect(await ledger.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 1n })])).toEqual(['debit_account_frozen']);
      // A late redelivery of an older event does not undo a newer change.
      expect(await ledger.setAccountState(alice, 'active', 4n)).toBe(true);
      expect((await ledger.lookupAccounts([alice]))[0]?.state).toBe('frozen');
      await ledger.setAccountState(alice, 'active', 6n);
      expect(await ledger.createTransfers([transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 1n })])).toEqual(['ok']);
    });

    it('verifies the invariants of what it stored', async () => {
      const alice = await customer(5_000n);
      const bob = await customer();
      const hold = transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 1_000n, flags: TransferFlags.PENDING });
      await ledger.createTransfers([hold, transferRequest({ debitAccountId: alice, creditAccountId: bob, amount: 10n })]);
      await ledger.createTransfers([transferRequest({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, amount: 600n, currency: '' })]);
      const report = await ledger.verify();
      expect(report.violations).toEqual([]);
      expect(report.accountsChecked).toBeGreaterThanOrEqual(2);
      expect(report.transfersChecked).toBeGreaterThanOrEqual(4);
    });
  });
}
