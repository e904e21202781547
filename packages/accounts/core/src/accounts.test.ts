import { ManualClock, OPERATOR_TOOL_ACTOR_ID, newId, type Caller } from '@bank/kernel';
import { FakeLedgerBalances, InMemoryAccountStore } from '@bank/testkit';
import { close, freeze, openAccount, unfreeze } from './account';
import { Accounts } from './accounts';

const NOW = new Date(Date.UTC(2026, 0, 1));

describe('the account lifecycle', () => {
  const opened = openAccount(newId(), newId(), 'USD', NOW).account;
  const frozenAccount = (() => {
    const r = freeze(opened, 'court order');
    if (!r.ok) throw new Error(r.message);
    return r.value.account;
  })();

  it('goes active → frozen ⇄ active → closed, bumping the version each time', () => {
    expect(opened).toMatchObject({ status: 'active', version: 1 });
    expect(frozenAccount).toMatchObject({ status: 'frozen', frozenReason: 'court order', version: 2 });
    const back = unfreeze(frozenAccount);
    expect(back.ok && back.value).toMatchObject({ account: { status: 'active', frozenReason: null, version: 3 }, event: 'account.unfrozen' });
    const closed = close(opened, { posted: 0n, pending: 0n, incoming: 0n });
    expect(closed.ok && closed.value.event).toBe('account.closed');
  });

  it.each([
    ['freeze a frozen account', () => freeze(frozenAccount, 'again'), 'ACCOUNT_FROZEN'],
    ['freeze without a reason', () => freeze(opened, '  '), 'VALIDATION_FAILED'],
    ['unfreeze an active account', () => unfreeze(opened), 'ACCOUNT_NOT_FROZEN'],
    ['close a frozen account', () => close(frozenAccount, { posted: 0n, pending: 0n, incoming: 0n }), 'ACCOUNT_FROZEN'],
    ['close with money on it', () => close(opened, { posted: 1n, pending: 0n, incoming: 0n }), 'ACCOUNT_NOT_EMPTY'],
    ['close with a hold on its money', () => close(opened, { posted: 0n, pending: 5n, incoming: 0n }), 'ACCOUNT_NOT_EMPTY'],
    ['close with money on its way in', () => close(opened, { posted: 0n, pending: 0n, incoming: 7n }), 'ACCOUNT_NOT_EMPTY'],
    ['close a negative (overdrawn) account', () => close(opened, { posted: -3n, pending: 0n, incoming: 0n }), 'ACCOUNT_NOT_EMPTY'],
  ])('refuses to %s', (_what, attempt, code) => {
    const r = attempt();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.code).toBe(code);
  });

  it('a closed account is final', () => {
    const r = close(opened, { posted: 0n, pending: 0n, incoming: 0n });
    if (!r.ok) throw new Error(r.message);
    const closed = r.value.account;
    expect(!freeze(closed, 'x').ok && !unfreeze(closed).ok && !close(closed, { posted: 0n, pending: 0n, incoming: 0n }).ok).toBe(true);
  });
});

describe('Accounts use cases with in-memory fakes', () => {
  const alice: Caller = { userId: newId(), roles: ['customer'] };
  const bob: Caller = { userId: newId(), roles: ['customer'] };
  const operator: Caller = { userId: newId(), roles: ['customer', 'operator'] };
  let store: InMemoryAccountStore;
  let ledger: FakeLedgerBalances;
  let accounts: Accounts;

  beforeEach(() => {
    store = new InMemoryAccountStore();
    ledger = new FakeLedgerBalances();
    accounts = new Accounts(store, ledger, new ManualClock(NOW));
  });

  it('opens an account once per idempotency key and emits account.opened once', async () => {
    const { account: a } = await accounts.open(alice, 'EUR', 'key-1');
    expect(await accounts.open(alice, 'EUR', 'key-1')).toEqual({ account: a, replayed: true });
    expect(store.events.map((e) => e.event)).toEqual(['account.opened']);
    // The same key for another currency is another request: refused, not answered with the first account.
    await expect(accounts.open(alice, 'USD', 'key-1')).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // Keys are per owner: Bob's key-1 is his own.
    expect((await accounts.open(bob, 'USD', 'key-1')).account.ownerId).toBe(bob.userId);
    expect(store.events.map((e) => e.event)).toEqual(['account.opened', 'account.opened']);
    await expect(accounts.open(alice, 'XXX', '')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { fields: [{ field: 'currency' }] } });
    await expect(accounts.open({ userId: undefined, roles: [] }, 'EUR', '')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it("opens an account for the customer an operator's tool names, and for nobody else", async () => {
    const tool: Caller = { userId: undefined, roles: ['operator'] };
    const { account, replayed } = await accounts.open(tool, 'EUR', 'seed:EUR:0', '', alice.userId);
    expect([account.ownerId, replayed]).toEqual([alice.userId, false]);
    expect(await accounts.open(tool, 'EUR', 'seed:EUR:0', '', alice.userId)).toEqual({ account, replayed: true });
    expect((await accounts.list(tool, alice.userId!, 10, '')).accounts.map((a) => a.id)).toEqual([account.id]);
    await expect(accounts.open(tool, 'EUR', '', '', 'not-a-uuid')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    // The tool's own stand-in id names no customer.
    await expect(accounts.open(tool, 'EUR', '', '', OPERATOR_TOOL_ACTOR_ID)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    // A signed-in user opens their own account whatever owner the request names.
    expect((await accounts.open(bob, 'EUR', '', '', alice.userId)).account.ownerId).toBe(bob.userId);
    // A workload without the operator's grant is nobody.
    await expect(accounts.open({ userId: undefined, roles: [] }, 'EUR', '', '', alice.userId)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('hides other people’s accounts as not found, except from operators', async () => {
    const { account: a } = await accounts.open(alice, 'USD', '');
    await expect(accounts.get(bob, a.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(accounts.get(bob, newId())).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await accounts.get(operator, a.id)).id).toBe(a.id);
    expect((await accounts.list(bob, alice.userId!, 10, '')).accounts).toEqual([]);
    expect((await accounts.list(operator, alice.userId!, 10, '')).accounts.map((x) => x.id)).toEqual([a.id]);
    await expect(accounts.get(alice, 'not-a-uuid')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(accounts.list(alice, '', 10, 'abc')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { fields: [{ field: 'cursor' }] } });
  });

  it('lets only operators freeze and unfreeze; to customers the account does not exist', async () => {
    const { account: a } = await accounts.open(alice, 'USD', '');
    await expect(accounts.freeze(alice, a.id, 'mine')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await accounts.freeze(operator, a.id, 'fraud check')).status).toBe('frozen');
    await expect(accounts.freeze(operator, a.id, 'again')).rejects.toMatchObject({ code: 'ACCOUNT_FROZEN' });
    expect((await accounts.unfreeze(operator, a.id)).status).toBe('active');
    expect(store.events.map((e) => e.event)).toEqual(['account.opened', 'account.frozen', 'account.unfrozen']);
  });

  it('closes only an empty account, asking the ledger', async () => {
    const { account: a } = await accounts.open(alice, 'USD', '');
    ledger.balances.set(a.id, { posted: 500n, pending: 0n, incoming: 0n });
    await expect(accounts.close(alice, a.id)).rejects.toMatchObject({ code: 'ACCOUNT_NOT_EMPTY' });
    ledger.balances.set(a.id, { posted: 0n, pending: 100n, incoming: 0n });
    await expect(accounts.close(alice, a.id)).rejects.toMatchObject({ code: 'ACCOUNT_NOT_EMPTY' });
    ledger.balances.set(a.id, { posted: 0n, pending: 0n, incoming: 0n });
    expect((await accounts.close(alice, a.id)).status).toBe('closed');
    await expect(accounts.close(bob, a.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('keeps profiles: created once from registration, updated only in name and phone by the owner', async () => {
    await accounts.createProfile(alice.userId!, 'alice@example.com', 'Alice');
    await accounts.createProfile(alice.userId!, 'other@example.com', 'Mallory');
    expect((await accounts.profile(alice, '')).fullName).toBe('Alice');
    const updated = await accounts.updateProfile(alice, { fullName: ' Alice B. ', phone: '+4915112345678' });
    expect(updated).toMatchObject({ fullName: 'Alice B.', phone: '+4915112345678', email: 'alice@example.com' });
    await expect(accounts.updateProfile(alice, { phone: '12345' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { fields: [{ field: 'phone' }] } });
    await expect(accounts.profile(bob, alice.userId!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await accounts.profile(operator, alice.userId!)).email).toBe('alice@example.com');
  });
});
