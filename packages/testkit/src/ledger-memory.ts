import { assert } from '@bank/kernel';
import {
  AccountFlags,
  TransferFlags,
  postedBalance,
  type AccountState,
  type Balances,
  type BatchChanges,
  type BatchState,
  type CreateAccountResult,
  type Entry,
  type Footprint,
  type InvariantReport,
  type InvariantViolation,
  type LedgerAccount,
  type LedgerEvent,
  type LedgerStore,
  type NewAccount,
  type Resolution,
  type StatementLine,
  type Transfer,
} from '@bank/ledger-core';

interface StoredEntry extends Entry {
  readonly sequence: bigint;
}

/**
 * A hand-written in-memory LedgerStore: the reference the Postgres adapter is held to by the
 * shared contract suite. Transactions run one at a time, so it has no conflicts to retry.
 */
export class InMemoryLedgerStore implements LedgerStore {
  readonly accounts = new Map<string, LedgerAccount>();
  readonly transfers = new Map<string, Transfer>();
  readonly resolutions = new Map<string, Resolution>();
  readonly entries: StoredEntry[] = [];
  readonly events: LedgerEvent[] = [];
  /** Set to make the next transact fail after deciding, as a crash before commit would. */
  failNextCommit: Error | undefined;
  private nextSequence = 1n;
  private lock: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  transact<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<T> {
    return this.exclusive(() => {
      const state: BatchState = { accounts: new Map(), transfers: new Map(), resolutions: new Map() };
      const accountIds = new Set(footprint.accountIds);
      for (const id of [...footprint.transferIds, ...footprint.pendingIds]) {
        const t = this.transfers.get(id);
        if (!t) continue;
        state.transfers.set(id, t);
        accountIds.add(t.debitAccountId);
        accountIds.add(t.creditAccountId);
      }
      for (const id of footprint.pendingIds) {
        const r = this.resolutions.get(id);
        if (r) state.resolutions.set(id, r);
      }
      for (const id of accountIds) {
        const a = this.accounts.get(id);
        if (a) state.accounts.set(id, { ...a });
      }
      const { changes, value } = decide(state);
      if (this.failNextCommit) {
        const e = this.failNextCommit;
        this.failNextCommit = undefined;
        throw e;
      }
      this.write(changes);
      return value;
    });
  }

  private write(changes: BatchChanges): void {
    for (const t of changes.transfers) {
      assert(!this.transfers.has(t.id), `duplicate transfer ${t.id}`);
      this.transfers.set(t.id, t);
    }
    for (const r of changes.resolutions) {
      assert(!this.resolutions.has(r.pendingId), `second resolution of ${r.pendingId}`);
      this.resolutions.set(r.pendingId, r);
    }
    for (const e of changes.entries) this.entries.push({ ...e, sequence: this.nextSequence++ });
    for (const a of changes.accounts) this.accounts.set(a.id, { ...a });
    this.events.push(...changes.events);
  }

  async dueHolds(now: Date, limit: number): Promise<string[]> {
    return [...this.transfers.values()]
      .filter((t) => (t.flags & TransferFlags.PENDING) !== 0 && !this.resolutions.has(t.id) && t.expiresAt !== null && t.expiresAt.getTime() <= now.getTime())
      .sort((a, b) => (a.expiresAt as Date).getTime() - (b.expiresAt as Date).getTime())
      .slice(0, limit)
      .map((t) => t.id);
  }

  createAccounts(accounts: readonly NewAccount[], now: Date): Promise<CreateAccountResult[]> {
    return this.exclusive(() =>
      accounts.map((a): CreateAccountResult => {
        const existing = this.accounts.get(a.id);
        if (existing) {
          const same = existing.currency === a.currency && existing.kind === a.kind && existing.flags === a.flags && existing.overdraftLimit === a.overdraftLimit && existing.ownerId === a.ownerId;
          return same ? 'exists' : 'exists_with_different_fields';
        }
        this.accounts.set(a.id, {
          id: a.id,
          currency: a.currency as LedgerAccount['currency'],
          kind: a.kind,
          state: 'active',
          flags: a.flags,
          overdraftLimit: a.overdraftLimit,
          debitsPosted: 0n,
          creditsPosted: 0n,
          debitsPending: 0n,
          creditsPending: 0n,
          ownerId: a.ownerId,
          createdAt: now,
        });
        return 'ok';
      }),
    );
  }

  private readonly stateVersions = new Map<string, bigint>();

  setAccountState(id: string, state: AccountState, version: bigint): Promise<boolean> {
    return this.exclusive(() => {
      const a = this.accounts.get(id);
      if (!a) return false;
      if (version > (this.stateVersions.get(id) ?? 0n)) {
        this.stateVersions.set(id, version);
        this.accounts.set(id, { ...a, state });
      }
      return true;
    });
  }

  async lookupAccounts(ids: readonly string[]): Promise<LedgerAccount[]> {
    return ids.flatMap((id) => {
      const a = this.accounts.get(id);
      return a ? [{ ...a }] : [];
    });
  }

  async getTransfer(id: string): Promise<{ transfer: Transfer; resolution: Resolution | undefined } | undefined> {
    const transfer = this.transfers.get(id);
    return transfer ? { transfer, resolution: this.resolutions.get(id) } : undefined;
  }

  async statement(accountId: string, limit: number, beforeSequence: bigint | undefined): Promise<StatementLine[]> {
    const lines: StatementLine[] = [];
    for (let i = this.entries.length - 1; i >= 0 && lines.length < limit; i--) {
      const e = this.entries[i] as StoredEntry;
      if (e.accountId !== accountId || (beforeSequence !== undefined && e.sequence >= beforeSequence)) continue;
      // A hold that has ended is shown by its resolution's line.
      if (e.kind === 'pending' && this.resolutions.has(e.transferId)) continue;
      const line = this.transfers.get(e.lineTransferId) as Transfer;
      const amount = e.kind === 'pending' || e.kind === 'void_pending' || e.kind === 'expired' ? (e.pendingDelta < 0n ? -e.pendingDelta : e.pendingDelta) : e.postedDelta;
      lines.push({
        transferId: e.lineTransferId,
        side: e.side,
        status: e.kind === 'pending' ? 'pending' : e.kind === 'void_pending' || e.kind === 'expired' ? 'voided' : 'posted',
        amount,
        currency: line.currency,
        balanceAfter: postedBalance(e.debitsPostedAfter, e.creditsPostedAfter),
        reference: line.reference,
        description: line.description,
        createdAt: e.createdAt,
        sequence: e.sequence,
      });
    }
    return lines;
  }

  async balanceAt(accountId: string, at: Date): Promise<Balances | undefined> {
    if (!this.accounts.has(accountId)) return undefined;
    let last: StoredEntry | undefined;
    for (const e of this.entries) if (e.accountId === accountId && e.createdAt.getTime() <= at.getTime()) last = e;
    return last
      ? { debitsPosted: last.debitsPostedAfter, creditsPosted: last.creditsPostedAfter, debitsPending: last.debitsPendingAfter, creditsPending: last.creditsPendingAfter }
      : { debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n };
  }

  async verify(): Promise<InvariantReport> {
    const violations: InvariantViolation[] = [];
    const perCurrency = new Map<string, { dp: bigint; cp: bigint; dq: bigint; cq: bigint }>();
    for (const a of this.accounts.values()) {
      const s = perCurrency.get(a.currency) ?? { dp: 0n, cp: 0n, dq: 0n, cq: 0n };
      s.dp += a.debitsPosted;
      s.cp += a.creditsPosted;
      s.dq += a.debitsPending;
      s.cq += a.creditsPending;
      perCurrency.set(a.currency, s);
      const sums = { dp: 0n, cp: 0n, dq: 0n, cq: 0n };
      for (const e of this.entries) {
        if (e.accountId !== a.id) continue;
        if (e.side === 'debit') {
          sums.dp += e.postedDelta;
          sums.dq += e.pendingDelta;
        } else {
          sums.cp += e.postedDelta;
          sums.cq += e.pendingDelta;
        }
      }
      if (sums.dp !== a.debitsPosted || sums.cp !== a.creditsPosted || sums.dq !== a.debitsPending || sums.cq !== a.creditsPending) {
        violations.push({ invariant: 'balance_equals_entries', detail: `account ${a.id}` });
      }
      if ((a.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS) !== 0 && a.debitsPosted + a.debitsPending > a.creditsPosted + a.overdraftLimit) {
        violations.push({ invariant: 'flags_respected', detail: `account ${a.id} debits exceed credits` });
      }
      if ((a.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS) !== 0 && a.creditsPosted + a.creditsPending > a.debitsPosted) {
        violations.push({ invariant: 'flags_respected', detail: `account ${a.id} credits exceed debits` });
      }
    }
    for (const [currency, s] of perCurrency) {
      if (s.dp !== s.cp || s.dq !== s.cq) violations.push({ invariant: 'debits_equal_credits', detail: currency });
    }
    const held = new Map<string, bigint>();
    for (const t of this.transfers.values()) {
      if ((t.flags & TransferFlags.PENDING) === 0 || this.resolutions.has(t.id)) continue;
      held.set(`d:${t.debitAccountId}`, (held.get(`d:${t.debitAccountId}`) ?? 0n) + t.amount);
      held.set(`c:${t.creditAccountId}`, (held.get(`c:${t.creditAccountId}`) ?? 0n) + t.amount);
    }
    for (const a of this.accounts.values()) {
      if ((held.get(`d:${a.id}`) ?? 0n) !== a.debitsPending || (held.get(`c:${a.id}`) ?? 0n) !== a.creditsPending) {
        violations.push({ invariant: 'holds_match_pending', detail: `account ${a.id}` });
      }
    }
    const resolvers = new Map<string, number>();
    for (const t of this.transfers.values()) if (t.pendingId) resolvers.set(t.pendingId, (resolvers.get(t.pendingId) ?? 0) + 1);
    for (const [pendingId, n] of resolvers) if (n > 1) violations.push({ invariant: 'single_resolution', detail: `hold ${pendingId} resolved ${n} times` });
    return { violations, accountsChecked: this.accounts.size, transfersChecked: this.transfers.size };
  }
}
