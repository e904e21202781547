import type { Deposit, IdempotencyRecord, IdempotencyScope, Payment, PaymentLedger, PaymentPage, PaymentStore, SaveOutcome, AccountDirectory, AccountInfo } from '@bank/payments-core';
import { isTerminal, settlementEvent, spendChange, spendDay } from '@bank/payments-core';

const keyOf = (userId: string, scope: IdempotencyScope, key: string) => `${userId}\u0000${scope}\u0000${key}`;

/** The PaymentStore port in memory, with the adapter's semantics (versions, the daily total, events). */
export class InMemoryPaymentStore implements PaymentStore {
  readonly payments = new Map<string, Payment>();
  readonly deposits = new Map<string, Deposit>();
  readonly records = new Map<string, IdempotencyRecord>();
  readonly spend = new Map<string, bigint>();
  /** The integration events written, in order: what the outbox would hold. */
  readonly events: { type: string; id: string }[] = [];

  async createPayment(p: Payment, record: IdempotencyRecord): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }> {
    const k = keyOf(record.userId, record.scope, record.key);
    const existing = this.records.get(k);
    if (existing) return { created: false, existing };
    this.records.set(k, record);
    this.payments.set(p.id, { ...p, version: 1 });
    this.events.push({ type: 'payment.requested', id: p.id });
    return { created: true };
  }

  async getPayment(id: string): Promise<Payment | undefined> {
    const p = this.payments.get(id);
    return p && { ...p };
  }

  async savePayment(before: Payment, after: Payment, dailyLimit: bigint): Promise<SaveOutcome> {
    const stored = this.payments.get(before.id);
    if (!stored || stored.version !== before.version) return 'conflict';
    const change = spendChange(before, after);
    const spendKey = `${after.initiatorId}:${after.currency}:${spendDay(after)}`;
    const total = (this.spend.get(spendKey) ?? 0n) + change;
    if (change > 0n && total > dailyLimit) return 'limit_exceeded';
    if (change !== 0n) this.spend.set(spendKey, total);
    this.payments.set(after.id, { ...after, version: before.version + 1 });
    const event = settlementEvent(before, after);
    if (event) this.events.push({ type: event, id: after.id });
    return 'saved';
  }

  async listPayments(accountId: string, limit: number, cursor: string): Promise<PaymentPage> {
    const all = [...this.payments.values()]
      .filter((p) => p.sourceAccountId === accountId || p.destinationAccountId === accountId)
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .filter((p) => cursor === '' || p.id < cursor);
    const page = all.slice(0, limit);
    return { payments: page, nextCursor: all.length > limit ? (page[page.length - 1]?.id ?? '') : '' };
  }

  async duePayments(now: Date, limit: number): Promise<string[]> {
    return [...this.payments.values()]
      .filter((p) => !isTerminal(p) && p.deadlineAt <= now)
      .sort((a, b) => a.deadlineAt.getTime() - b.deadlineAt.getTime())
      .slice(0, limit)
      .map((p) => p.id);
  }

  async getIdempotency(userId: string, scope: IdempotencyScope, key: string): Promise<IdempotencyRecord | undefined> {
    return this.records.get(keyOf(userId, scope, key));
  }

  async completeIdempotency(userId: string, scope: IdempotencyScope, key: string, status: number, body: unknown): Promise<void> {
    const k = keyOf(userId, scope, key);
    const r = this.records.get(k);
    if (r && r.responseStatus === null) this.records.set(k, { ...r, responseStatus: status, responseBody: body });
  }

  async purgeIdempotency(before: Date, limit: number): Promise<number> {
    const old = [...this.records.entries()].filter(([, r]) => r.createdAt < before).slice(0, limit);
    for (const [k] of old) this.records.delete(k);
    return old.length;
  }

  async createDeposit(d: Deposit, record: IdempotencyRecord): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }> {
    const k = keyOf(record.userId, record.scope, record.key);
    const existing = this.records.get(k);
    if (existing) return { created: false, existing };
    this.records.set(k, record);
    this.deposits.set(d.id, d);
    return { created: true };
  }

  async getDeposit(id: string): Promise<Deposit | undefined> {
    return this.deposits.get(id);
  }

  async finishDeposit(d: Deposit, status: number, body: unknown): Promise<void> {
    const stored = this.deposits.get(d.id);
    if (!stored || (d.status === 'completed' ? stored.status === 'completed' : stored.status !== 'pending')) return;
    this.deposits.set(d.id, d);
    if (d.status === 'completed') this.events.push({ type: 'deposit.completed', id: d.id });
    for (const [k, r] of this.records) if (r.scope === 'deposit' && r.resourceId === d.id) this.records.set(k, { ...r, responseStatus: status, responseBody: body });
  }

  async pendingDeposits(before: Date, limit: number): Promise<string[]> {
    return [...this.deposits.values()].filter((d) => d.status === 'pending' && d.createdAt < before).slice(0, limit).map((d) => d.id);
  }
}

/** Accounts in memory: what user-service would answer. */
export class InMemoryAccountDirectory implements AccountDirectory {
  readonly accounts = new Map<string, AccountInfo>();

  /** `source` answers accounts the directory has not recorded yet, as user-service does for the real one. */
  constructor(private readonly source: (id: string) => Promise<AccountInfo | undefined> = async () => undefined) {}

  add(account: AccountInfo): void {
    this.accounts.set(account.id, account);
  }

  async find(ids: readonly string[]): Promise<Map<string, AccountInfo>> {
    const found = new Map<string, AccountInfo>();
    for (const id of ids) {
      const known = this.accounts.get(id) ?? (await this.source(id));
      if (!known) continue;
      found.set(id, known);
      if (!this.accounts.has(id)) this.accounts.set(id, known);
    }
    return found;
  }

  private readonly stateSequences = new Map<string, number>();

  async recordOpened(a: AccountInfo): Promise<void> {
    if (!this.accounts.has(a.id)) this.accounts.set(a.id, { ...a, state: 'active' });
  }

  async recordState(id: string, state: AccountInfo['state'], sequence: number): Promise<boolean> {
    const a = this.accounts.get(id);
    if (!a) return false;
    if (sequence > (this.stateSequences.get(id) ?? 0)) {
      this.accounts.set(id, { ...a, state });
      this.stateSequences.set(id, sequence);
    }
    return true;
  }
}

type Call = { op: 'hold' | 'capture' | 'void' | 'barrier' | 'deposit'; paymentId: string };

/**
 * A ledger with balances and holds, good enough for the saga's decisions: holds reserve money,
 * captures move it, voids release it, transfer ids are idempotent, and it can be made to fail
 * (unreachable) or to answer a chosen result.
 */
export class FakePaymentLedger implements PaymentLedger {
  readonly balances = new Map<string, bigint>();
  readonly frozen = new Set<string>();
  /** Transfer id → what it was. */
  readonly transfers = new Map<string, { kind: 'hold' | 'capture' | 'void' | 'barrier' | 'deposit'; state?: 'pending' | 'posted' | 'voided'; paymentId: string; debit?: string; amount?: bigint }>();
  readonly calls: Call[] = [];
  unreachable = false;
  /** Calls of these kinds fail as if the ledger were unreachable. */
  readonly unreachableOps = new Set<Call['op']>();
  /** Answers the next call of this kind with this result instead of deciding. */
  readonly forced = new Map<Call['op'], string>();

  private enter(op: Call['op'], paymentId: string): string | undefined {
    this.calls.push({ op, paymentId });
    if (this.unreachable || this.unreachableOps.has(op)) throw new Error('ledger unreachable');
    const forced = this.forced.get(op);
    if (forced !== undefined) this.forced.delete(op);
    return forced;
  }

  async hold(p: Payment, holdId: string): Promise<string> {
    const forced = this.enter('hold', p.id);
    if (forced) return forced;
    const t = this.transfers.get(holdId);
    if (t) return t.kind === 'hold' ? 'exists' : 'exists_with_different_debit_account_id';
    if (this.frozen.has(p.sourceAccountId)) return 'debit_account_frozen';
    if ((this.balances.get(p.sourceAccountId) ?? 0n) < p.amount) return 'exceeds_credits';
    this.balances.set(p.sourceAccountId, (this.balances.get(p.sourceAccountId) ?? 0n) - p.amount);
    this.transfers.set(holdId, { kind: 'hold', state: 'pending', paymentId: p.id, debit: p.sourceAccountId, amount: p.amount });
    return 'ok';
  }

  async capture(p: Payment, captureId: string, holdId: string): Promise<string> {
    const forced = this.enter('capture', p.id);
    if (forced) return forced;
    if (this.transfers.has(captureId)) return 'exists';
    const hold = this.transfers.get(holdId);
    if (!hold || hold.kind !== 'hold') return 'pending_transfer_not_found';
    if (hold.state === 'voided') return 'pending_transfer_already_voided';
    if (this.frozen.has(p.destinationAccountId)) return 'credit_account_frozen';
    hold.state = 'posted';
    this.balances.set(p.destinationAccountId, (this.balances.get(p.destinationAccountId) ?? 0n) + p.amount);
    this.transfers.set(captureId, { kind: 'capture', paymentId: p.id });
    return 'ok';
  }

  async void(p: Payment, voidId: string, holdId: string): Promise<string> {
    const forced = this.enter('void', p.id);
    if (forced) return forced;
    if (this.transfers.has(voidId)) return 'exists';
    const hold = this.transfers.get(holdId);
    if (!hold) return 'pending_transfer_not_found';
    if (hold.state === 'posted') return 'pending_transfer_already_posted';
    if (hold.state === 'voided') return 'pending_transfer_already_voided';
    hold.state = 'voided';
    if (hold.debit && hold.amount) this.balances.set(hold.debit, (this.balances.get(hold.debit) ?? 0n) + hold.amount);
    this.transfers.set(voidId, { kind: 'void', paymentId: p.id });
    return 'ok';
  }

  async barrier(p: Payment, holdId: string, voidId: string): Promise<[string, string]> {
    const forced = this.enter('barrier', p.id);
    if (forced) return [forced, 'linked_event_failed'];
    const t = this.transfers.get(holdId);
    if (t?.kind === 'barrier') return ['exists', 'exists'];
    if (t) return ['exists_with_different_debit_account_id', 'linked_event_failed'];
    this.transfers.set(holdId, { kind: 'barrier', paymentId: p.id });
    this.transfers.set(voidId, { kind: 'void', paymentId: p.id });
    return ['ok', 'ok'];
  }

  async deposit(d: Deposit, transferId: string): Promise<string> {
    const forced = this.enter('deposit', d.id);
    if (forced) return forced;
    if (this.transfers.has(transferId)) return 'exists';
    if (this.frozen.has(d.accountId)) return 'credit_account_frozen';
    this.balances.set(d.accountId, (this.balances.get(d.accountId) ?? 0n) + d.amount);
    this.transfers.set(transferId, { kind: 'deposit', paymentId: d.id });
    return 'ok';
  }

  /** Holds neither posted nor voided. */
  openHolds(): number {
    return [...this.transfers.values()].filter((t) => t.kind === 'hold' && t.state === 'pending').length;
  }
}
