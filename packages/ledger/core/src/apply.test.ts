import { MAX_MINOR_UNITS, newId } from '@bank/kernel';
import { applyTransfers, expireHolds, type BatchState } from './apply';
import { AccountFlags, TRANSFER_RESULTS, TransferFlags, type LedgerAccount, type TransferRequest, type TransferResult } from './model';

const NOW = new Date('2026-01-01T00:00:00Z');
const OPTS = { now: NOW, defaultTimeoutSeconds: 60 };

function account(overrides: Partial<LedgerAccount> = {}): LedgerAccount {
  return {
    id: newId(),
    currency: 'USD',
    kind: 'customer',
    state: 'active',
    flags: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    overdraftLimit: 0n,
    debitsPosted: 0n,
    creditsPosted: 0n,
    debitsPending: 0n,
    creditsPending: 0n,
    ownerId: newId(),
    createdAt: NOW,
    ...overrides,
  };
}

/** A world of three accounts: the bank's settlement account and two customers, Alice with 100.00. */
function world(): { state: BatchState; settlement: LedgerAccount; alice: LedgerAccount; bob: LedgerAccount } {
  const settlement = account({ kind: 'settlement', flags: AccountFlags.NONE, debitsPosted: 10_000n, ownerId: null });
  const alice = account({ creditsPosted: 10_000n });
  const bob = account();
  const state: BatchState = { accounts: new Map([settlement, alice, bob].map((a) => [a.id, a])), transfers: new Map(), resolutions: new Map() };
  return { state, settlement, alice, bob };
}

function transfer(overrides: Partial<TransferRequest> = {}): TransferRequest {
  return { id: newId(), debitAccountId: '', creditAccountId: '', amount: 0n, currency: 'USD', flags: 0, pendingId: '', timeoutSeconds: 0, reference: '', description: '', ...overrides };
}

function run(state: BatchState, ...items: TransferRequest[]): TransferResult[] {
  return applyTransfers(state, [items], OPTS).results[0] as TransferResult[];
}

describe('posted transfers', () => {
  it('moves money and writes two entries with the balances after it', () => {
    const { state, alice, bob } = world();
    const t = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 2_500n });
    const { results, changes } = applyTransfers(state, [[t]], OPTS);
    expect(results).toEqual([['ok']]);
    expect([alice.debitsPosted, bob.creditsPosted]).toEqual([2_500n, 2_500n]);
    expect(changes.entries.map((e) => [e.side, e.kind, e.postedDelta, e.creditsPostedAfter - e.debitsPostedAfter])).toEqual([
      ['debit', 'posted', 2_500n, 7_500n],
      ['credit', 'posted', 2_500n, 2_500n],
    ]);
    expect(changes.events.map((e) => e.type)).toEqual(['transfer.posted']);
    expect(changes.accounts.map((a) => a.id).sort()).toEqual([alice.id, bob.id].sort());
  });

  it('refuses to overdraw an account that may not go negative', () => {
    const { state, alice, bob } = world();
    expect(run(state, transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 10_001n }))).toEqual(['exceeds_credits']);
    expect(run(state, transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 10_000n }))).toEqual(['ok']);
    expect(alice.creditsPosted - alice.debitsPosted).toBe(0n);
  });

  it('allows going negative down to the overdraft limit and no further', () => {
    const { state, bob } = world();
    const overdrawn = account({ overdraftLimit: 5_000n });
    state.accounts.set(overdrawn.id, overdrawn);
    expect(run(state, transfer({ debitAccountId: overdrawn.id, creditAccountId: bob.id, amount: 5_000n }))).toEqual(['ok']);
    expect(run(state, transfer({ debitAccountId: overdrawn.id, creditAccountId: bob.id, amount: 1n }))).toEqual(['exceeds_credits']);
    expect(overdrawn.creditsPosted - overdrawn.debitsPosted).toBe(-5_000n);
  });

  it('counts holds against the available balance', () => {
    const { state, alice, bob } = world();
    expect(run(state, transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 6_000n, flags: TransferFlags.PENDING }))).toEqual(['ok']);
    expect(run(state, transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 4_001n }))).toEqual(['exceeds_credits']);
    expect(run(state, transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 4_000n }))).toEqual(['ok']);
  });

  it('refuses credits beyond debits where the flag says so', () => {
    const { state, settlement } = world();
    const capped = account({ flags: AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS, debitsPosted: 100n });
    state.accounts.set(capped.id, capped);
    expect(run(state, transfer({ debitAccountId: settlement.id, creditAccountId: capped.id, amount: 101n }))).toEqual(['exceeds_debits']);
    expect(run(state, transfer({ debitAccountId: settlement.id, creditAccountId: capped.id, amount: 100n }))).toEqual(['ok']);
  });

  it('refuses a transfer whose balances would overflow a 64-bit column', () => {
    const { state, bob } = world();
    const rich = account({ kind: 'settlement', flags: AccountFlags.NONE, debitsPosted: MAX_MINOR_UNITS - 10n });
    state.accounts.set(rich.id, rich);
    expect(run(state, transfer({ debitAccountId: rich.id, creditAccountId: bob.id, amount: 11n }))).toEqual(['overflows']);
    expect(run(state, transfer({ debitAccountId: rich.id, creditAccountId: bob.id, amount: 10n }))).toEqual(['ok']);
  });
});

describe('validation result codes', () => {
  const cases: [TransferResult, (w: ReturnType<typeof world>) => TransferRequest][] = [
    ['invalid_id', (w) => transfer({ id: 'not-a-uuid', debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 1n })],
    ['flags_are_mutually_exclusive', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 1n, flags: TransferFlags.PENDING | TransferFlags.VOID_PENDING })],
    ['flags_are_mutually_exclusive', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 1n, flags: 64 })],
    ['accounts_must_be_different', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.alice.id, amount: 1n })],
    ['amount_must_be_positive', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 0n })],
    ['amount_must_be_positive', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: -5n })],
    ['invalid_currency', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 1n, currency: 'XXX' })],
    ['pending_id_must_be_empty', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 1n, pendingId: newId() })],
    ['pending_id_required', () => transfer({ flags: TransferFlags.POST_PENDING })],
    ['timeout_reserved_for_pending_transfer', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 1n, timeoutSeconds: 5 })],
    ['debit_account_not_found', (w) => transfer({ debitAccountId: newId(), creditAccountId: w.bob.id, amount: 1n })],
    ['credit_account_not_found', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: newId(), amount: 1n })],
    ['currency_mismatch', (w) => transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount: 1n, currency: 'EUR' })],
    ['pending_transfer_not_found', () => transfer({ flags: TransferFlags.POST_PENDING, pendingId: newId() })],
  ];

  it.each(cases)('%s', (expected, make) => {
    const w = world();
    const before = JSON.stringify([...w.state.accounts.values()], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const { results, changes } = applyTransfers(w.state, [[make(w)]], OPTS);
    expect(results).toEqual([[expected]]);
    expect(changes.transfers).toEqual([]);
    expect(changes.entries).toEqual([]);
    expect(JSON.stringify([...w.state.accounts.values()], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).toBe(before);
  });

  it.each([
    ['frozen', 'debit', 'debit_account_frozen'],
    ['frozen', 'credit', 'credit_account_frozen'],
    ['closed', 'debit', 'debit_account_closed'],
    ['closed', 'credit', 'credit_account_closed'],
  ] as const)('a %s %s account refuses the transfer', (accountState, side, expected) => {
    const { state, alice, bob } = world();
    (side === 'debit' ? alice : bob).state = accountState;
    expect(run(state, transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 1n }))).toEqual([expected]);
  });

  it('a currency mismatch between the two accounts is refused', () => {
    const { state, alice } = world();
    const euro = account({ currency: 'EUR' });
    state.accounts.set(euro.id, euro);
    expect(run(state, transfer({ debitAccountId: alice.id, creditAccountId: euro.id, amount: 1n }))).toEqual(['currency_mismatch']);
  });
});

describe('idempotency by transfer id', () => {
  it('answers exists for the same fields, and names the first differing field otherwise', () => {
    const { state, alice, bob, settlement } = world();
    const t = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 100n, reference: 'p-1', description: 'rent' });
    expect(run(state, t)).toEqual(['ok']);
    expect(run(state, { ...t })).toEqual(['exists']);
    expect(run(state, { ...t, flags: TransferFlags.PENDING })).toEqual(['exists_with_different_flags']);
    expect(run(state, { ...t, debitAccountId: settlement.id })).toEqual(['exists_with_different_debit_account_id']);
    expect(run(state, { ...t, creditAccountId: settlement.id })).toEqual(['exists_with_different_credit_account_id']);
    expect(run(state, { ...t, amount: 101n })).toEqual(['exists_with_different_amount']);
    expect(run(state, { ...t, currency: 'EUR' })).toEqual(['exists_with_different_currency']);
    expect(run(state, { ...t, pendingId: newId() })).toEqual(['exists_with_different_pending_id']);
    expect(run(state, { ...t, timeoutSeconds: 9 })).toEqual(['exists_with_different_timeout']);
    expect(run(state, { ...t, reference: 'p-2' })).toEqual(['exists_with_different_reference']);
    expect(run(state, { ...t, description: 'food' })).toEqual(['exists_with_different_description']);
    expect(alice.debitsPosted).toBe(100n);
  });

  it('applies a duplicate inside one batch once', () => {
    const { state, alice, bob } = world();
    const t = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 100n });
    const { results, changes } = applyTransfers(state, [[t], [{ ...t }], [{ ...t, amount: 5n }]], OPTS);
    expect(results).toEqual([['ok'], ['exists'], ['exists_with_different_amount']]);
    expect(changes.transfers).toHaveLength(1);
    expect(bob.creditsPosted).toBe(100n);
  });

  it('lets a post or void be retried without repeating the accounts and amount', () => {
    const { state, alice, bob } = world();
    const hold = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 500n, flags: TransferFlags.PENDING });
    const post = transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, currency: '' });
    expect(run(state, hold, post)).toEqual(['ok', 'ok']);
    expect(run(state, { ...post })).toEqual(['exists']);
    expect(run(state, { ...post, debitAccountId: alice.id, creditAccountId: bob.id, amount: 500n, currency: 'USD' })).toEqual(['exists']);
    expect(run(state, { ...post, amount: 400n })).toEqual(['exists_with_different_amount']);
  });
});

describe('holds: pending, post, void, expiry', () => {
  function held(amount = 3_000n, timeoutSeconds = 0) {
    const w = world();
    const hold = transfer({ debitAccountId: w.alice.id, creditAccountId: w.bob.id, amount, flags: TransferFlags.PENDING, timeoutSeconds, reference: 'pay-1' });
    expect(run(w.state, hold)).toEqual(['ok']);
    return { ...w, hold };
  }

  it('a hold moves the amount into the pending columns with its timeout', () => {
    const { state, alice, bob, hold } = held(3_000n, 30);
    expect([alice.debitsPending, bob.creditsPending, alice.debitsPosted]).toEqual([3_000n, 3_000n, 0n]);
    expect(state.transfers.get(hold.id)?.expiresAt).toEqual(new Date(NOW.getTime() + 30_000));
  });

  it('a hold without a timeout gets the default one', () => {
    const { state, hold } = held();
    expect(state.transfers.get(hold.id)?.expiresAt).toEqual(new Date(NOW.getTime() + 60_000));
  });

  it('posts a hold in full', () => {
    const { state, alice, bob, hold } = held();
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id }))).toEqual(['ok']);
    expect([alice.debitsPending, alice.debitsPosted, bob.creditsPending, bob.creditsPosted]).toEqual([0n, 3_000n, 0n, 3_000n]);
    expect(state.resolutions.get(hold.id)).toMatchObject({ kind: 'posted', amount: 3_000n });
  });

  it('posts part of a hold and releases the rest', () => {
    const { state, alice, bob, hold } = held();
    const { results, changes } = applyTransfers(state, [[transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, amount: 1_200n })]], OPTS);
    expect(results).toEqual([['ok']]);
    expect([alice.debitsPending, alice.debitsPosted, bob.creditsPosted]).toEqual([0n, 1_200n, 1_200n]);
    expect(changes.entries.map((e) => [e.kind, e.lineTransferId, e.postedDelta, e.pendingDelta])).toEqual([
      ['post_pending', hold.id, 1_200n, -3_000n],
      ['post_pending', hold.id, 1_200n, -3_000n],
    ]);
  });

  it('refuses to post more than was held', () => {
    const { state, hold } = held();
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, amount: 3_001n }))).toEqual(['exceeds_pending_transfer_amount']);
  });

  it('voids a hold and releases it', () => {
    const { state, alice, bob, hold } = held();
    expect(run(state, transfer({ flags: TransferFlags.VOID_PENDING, pendingId: hold.id, amount: 2n }))).toEqual(['pending_transfer_has_different_amount']);
    const { results, changes } = applyTransfers(state, [[transfer({ flags: TransferFlags.VOID_PENDING, pendingId: hold.id })]], OPTS);
    expect(results).toEqual([['ok']]);
    expect([alice.debitsPending, alice.debitsPosted, bob.creditsPending]).toEqual([0n, 0n, 0n]);
    expect(changes.events.map((e) => e.type)).toEqual(['transfer.voided']);
  });

  it('resolves a hold once: a second post or void is refused with the reason', () => {
    const { state, hold } = held();
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id }))).toEqual(['ok']);
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id }))).toEqual(['pending_transfer_already_posted']);
    expect(run(state, transfer({ flags: TransferFlags.VOID_PENDING, pendingId: hold.id }))).toEqual(['pending_transfer_already_posted']);
    const other = held();
    expect(run(other.state, transfer({ flags: TransferFlags.VOID_PENDING, pendingId: other.hold.id }))).toEqual(['ok']);
    expect(run(other.state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: other.hold.id }))).toEqual(['pending_transfer_already_voided']);
  });

  it('refuses to resolve something that is not a hold', () => {
    const { state, alice, bob } = world();
    const plain = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 5n });
    expect(run(state, plain)).toEqual(['ok']);
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: plain.id }))).toEqual(['pending_transfer_not_pending']);
  });

  it('checks given accounts and currency against the hold', () => {
    const { state, hold, settlement } = held();
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, debitAccountId: settlement.id }))).toEqual(['pending_transfer_has_different_debit_account']);
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, creditAccountId: settlement.id }))).toEqual(['pending_transfer_has_different_credit_account']);
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, currency: 'EUR' }))).toEqual(['pending_transfer_has_different_currency']);
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id, timeoutSeconds: 3 }))).toEqual(['timeout_reserved_for_pending_transfer']);
  });

  it('refuses to capture into a frozen account but always lets a hold be released', () => {
    const { state, bob, hold } = held();
    bob.state = 'frozen';
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id }))).toEqual(['credit_account_frozen']);
    expect(run(state, transfer({ flags: TransferFlags.VOID_PENDING, pendingId: hold.id }))).toEqual(['ok']);
  });

  it('expires a hold once its timeout has passed, and then refuses to post it', () => {
    const { state, alice, bob, hold } = held(3_000n, 30);
    const later = new Date(NOW.getTime() + 30_000);
    expect(expireHolds(state, [hold.id], new Date(later.getTime() - 1)).resolutions).toEqual([]);
    const changes = expireHolds(state, [hold.id], later);
    expect(changes.resolutions).toEqual([{ pendingId: hold.id, kind: 'expired', transferId: null, amount: 3_000n, resolvedAt: later }]);
    expect(changes.events.map((e) => e.type)).toEqual(['transfer.expired']);
    expect([alice.debitsPending, bob.creditsPending]).toEqual([0n, 0n]);
    expect(applyTransfers(state, [[transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id })]], { ...OPTS, now: later }).results).toEqual([['pending_transfer_expired']]);
    expect(expireHolds(state, [hold.id], later).resolutions).toEqual([]);
  });

  it('refuses to post a hold past its timeout even before the sweeper ran', () => {
    const { state, hold } = held(3_000n, 30);
    const late = { ...OPTS, now: new Date(NOW.getTime() + 30_000) };
    expect(applyTransfers(state, [[transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id })]], late).results).toEqual([['pending_transfer_expired']]);
  });

  it('posts a hold created earlier in the same batch', () => {
    const { state, alice, bob } = world();
    const hold = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 70n, flags: TransferFlags.PENDING });
    expect(run(state, hold, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id }))).toEqual(['ok', 'ok']);
    expect(bob.creditsPosted).toBe(70n);
  });
});

describe('linked transfers', () => {
  it('succeed together', () => {
    const { state, alice, bob, settlement } = world();
    const a = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 100n, flags: TransferFlags.LINKED });
    const b = transfer({ debitAccountId: settlement.id, creditAccountId: alice.id, amount: 50n });
    expect(run(state, a, b)).toEqual(['ok', 'ok']);
  });

  it('fail together: a failure rolls back the chain and leaves the others alone', () => {
    const { state, alice, bob, settlement } = world();
    const before = transfer({ debitAccountId: settlement.id, creditAccountId: bob.id, amount: 1n });
    const a = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 9_000n, flags: TransferFlags.LINKED | TransferFlags.PENDING });
    const b = transfer({ debitAccountId: settlement.id, creditAccountId: alice.id, amount: 10n, flags: TransferFlags.LINKED });
    const c = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 2_000n });
    const after = transfer({ debitAccountId: settlement.id, creditAccountId: bob.id, amount: 2n });
    const { results, changes } = applyTransfers(state, [[before, a, b, c, after]], OPTS);
    expect(results).toEqual([['ok', 'linked_event_failed', 'linked_event_failed', 'exceeds_credits', 'ok']]);
    expect(changes.transfers.map((t) => t.id)).toEqual([before.id, after.id]);
    expect(changes.entries).toHaveLength(4);
    expect([alice.debitsPending, alice.debitsPosted, alice.creditsPosted, bob.creditsPosted]).toEqual([0n, 0n, 10_000n, 3n]);
    expect(state.transfers.has(a.id)).toBe(false);
  });

  it('a chain left open at the end of a call fails whole, without touching the next call', () => {
    const { state, alice, bob } = world();
    const a = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 1n, flags: TransferFlags.LINKED });
    const b = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 1n, flags: TransferFlags.LINKED });
    const next = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 1n });
    expect(applyTransfers(state, [[a, b], [next]], OPTS).results).toEqual([['linked_event_failed', 'linked_event_chain_open'], ['ok']]);
    expect(bob.creditsPosted).toBe(1n);
  });

  it('rolls back a resolution made inside a failed chain', () => {
    const { state, alice, bob } = world();
    const hold = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 10n, flags: TransferFlags.PENDING });
    expect(run(state, hold)).toEqual(['ok']);
    const post = transfer({ flags: TransferFlags.POST_PENDING | TransferFlags.LINKED, pendingId: hold.id });
    const bad = transfer({ debitAccountId: alice.id, creditAccountId: bob.id, amount: 0n });
    expect(run(state, post, bad)).toEqual(['linked_event_failed', 'amount_must_be_positive']);
    expect(state.resolutions.has(hold.id)).toBe(false);
    expect(alice.debitsPending).toBe(10n);
    expect(run(state, transfer({ flags: TransferFlags.POST_PENDING, pendingId: hold.id }))).toEqual(['ok']);
  });
});

it('every result code is exercised by this file', () => {
  // A guard against adding a code without a test: the list below must name every code.
  const covered: TransferResult[] = [
    'ok', 'exists', 'linked_event_failed', 'linked_event_chain_open', 'invalid_id', 'flags_are_mutually_exclusive', 'accounts_must_be_different',
    'amount_must_be_positive', 'invalid_currency', 'pending_id_must_be_empty', 'pending_id_required', 'timeout_reserved_for_pending_transfer',
    'debit_account_not_found', 'credit_account_not_found', 'currency_mismatch', 'debit_account_frozen', 'credit_account_frozen', 'debit_account_closed',
    'credit_account_closed', 'exceeds_credits', 'exceeds_debits', 'overflows', 'pending_transfer_not_found', 'pending_transfer_not_pending',
    'pending_transfer_already_posted', 'pending_transfer_already_voided', 'pending_transfer_expired', 'pending_transfer_has_different_debit_account',
    'pending_transfer_has_different_credit_account', 'pending_transfer_has_different_currency', 'exceeds_pending_transfer_amount',
    'pending_transfer_has_different_amount', 'exists_with_different_flags', 'exists_with_different_debit_account_id', 'exists_with_different_credit_account_id',
    'exists_with_different_amount', 'exists_with_different_currency', 'exists_with_different_pending_id', 'exists_with_different_timeout',
    'exists_with_different_reference', 'exists_with_different_description',
  ];
  expect([...covered].sort()).toEqual([...TRANSFER_RESULTS].sort());
});
