import { MAX_MINOR_UNITS, assert, isCurrency, isUuid } from '@bank/kernel';
import {
  AccountFlags,
  MAX_PENDING_TIMEOUT_SECONDS,
  TransferFlags,
  accountBalance,
  isSuccess,
  validTransferFlags,
  type Entry,
  type EntryKind,
  type LedgerAccount,
  type Resolution,
  type Transfer,
  type TransferRequest,
  type TransferResult,
} from './model';

export type LedgerEventType = 'transfer.posted' | 'transfer.pending' | 'transfer.voided' | 'transfer.expired';

export interface LedgerEvent {
  readonly type: LedgerEventType;
  readonly transfer: Transfer;
}

/** What a batch reads: the locked accounts and the transfers and resolutions it refers to. */
export interface BatchState {
  readonly accounts: Map<string, LedgerAccount>;
  readonly transfers: Map<string, Transfer>;
  readonly resolutions: Map<string, Resolution>;
}

/** What a batch writes, all in one database transaction. */
export interface BatchChanges {
  readonly transfers: Transfer[];
  readonly entries: Entry[];
  readonly resolutions: Resolution[];
  /** Accounts whose balances changed, with their final values. */
  readonly accounts: LedgerAccount[];
  readonly events: LedgerEvent[];
  /** Requests refused (any result but ok and exists): a store that decided on remembered state confirms them. */
  readonly refusals: number;
}

export interface ApplyOptions {
  readonly now: Date;
  /** Used for a pending transfer whose timeoutSeconds is 0. */
  readonly defaultTimeoutSeconds: number;
}

type Side = 'debit' | 'credit';

/**
 * Collects the changes of a batch and can roll a linked chain back: it snapshots every account
 * the chain touches and remembers how long each list was when the chain began.
 */
class Changes {
  readonly transfers: Transfer[] = [];
  readonly entries: Entry[] = [];
  readonly resolutions: Resolution[] = [];
  readonly events: LedgerEvent[] = [];
  readonly touched = new Set<string>();
  private mark: { transfers: number; entries: number; resolutions: number; events: number; snapshots: Map<string, LedgerAccount> } | undefined;

  constructor(private readonly state: BatchState) {}

  beginChain(): void {
    this.mark = {
      transfers: this.transfers.length,
      entries: this.entries.length,
      resolutions: this.resolutions.length,
      events: this.events.length,
      snapshots: new Map(),
    };
  }

  /** Call before changing an account, so a chain rollback can restore it. */
  touch(account: LedgerAccount): void {
    if (this.mark && !this.mark.snapshots.has(account.id)) this.mark.snapshots.set(account.id, { ...account });
    this.touched.add(account.id);
  }

  rollbackChain(): void {
    const m = this.mark;
    assert(m, 'rollback without a chain');
    for (const t of this.transfers.splice(m.transfers)) this.state.transfers.delete(t.id);
    for (const r of this.resolutions.splice(m.resolutions)) this.state.resolutions.delete(r.pendingId);
    this.entries.splice(m.entries);
    this.events.splice(m.events);
    for (const [id, snapshot] of m.snapshots) Object.assign(this.state.accounts.get(id) as LedgerAccount, snapshot);
    this.mark = undefined;
  }

  endChain(): void {
    this.mark = undefined;
  }

  record(transfer: Transfer, event: LedgerEventType): void {
    this.transfers.push(transfer);
    this.state.transfers.set(transfer.id, transfer);
    this.events.push({ type: event, transfer });
  }

  entry(account: LedgerAccount, side: Side, kind: EntryKind, transferId: string, lineTransferId: string, postedDelta: bigint, pendingDelta: bigint, now: Date): void {
    this.entries.push({
      accountId: account.id,
      transferId,
      lineTransferId,
      kind,
      side,
      postedDelta,
      pendingDelta,
      debitsPostedAfter: account.debitsPosted,
      creditsPostedAfter: account.creditsPosted,
      debitsPendingAfter: account.debitsPending,
      creditsPendingAfter: account.creditsPending,
      createdAt: now,
    });
  }

  result(refusals: number): BatchChanges {
    const accounts = [...this.touched].map((id) => ({ ...(this.state.accounts.get(id) as LedgerAccount) }));
    return { transfers: this.transfers, entries: this.entries, resolutions: this.resolutions, accounts, events: this.events, refusals };
  }
}

const isPostOrVoid = (flags: number) => (flags & (TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)) !== 0;

/** Compares a retried transfer with the recorded one: the first differing field names the result. */
function compareExisting(t: Transfer, r: TransferRequest): TransferResult {
  if (t.flags !== r.flags) return 'exists_with_different_flags';
  // A post or void may leave accounts, currency and amount empty: they were taken from the hold.
  const optional = isPostOrVoid(r.flags);
  if ((r.debitAccountId !== '' || !optional) && r.debitAccountId !== t.debitAccountId) return 'exists_with_different_debit_account_id';
  if ((r.creditAccountId !== '' || !optional) && r.creditAccountId !== t.creditAccountId) return 'exists_with_different_credit_account_id';
  if ((r.amount !== 0n || !optional) && r.amount !== t.amount) return 'exists_with_different_amount';
  if ((r.currency !== '' || !optional) && r.currency !== t.currency) return 'exists_with_different_currency';
  if ((r.pendingId || null) !== t.pendingId) return 'exists_with_different_pending_id';
  if (r.timeoutSeconds !== t.timeoutSeconds) return 'exists_with_different_timeout';
  if (r.reference !== t.reference) return 'exists_with_different_reference';
  if (r.description !== t.description) return 'exists_with_different_description';
  return 'exists';
}

function stateResult(account: LedgerAccount, side: Side): TransferResult | undefined {
  if (account.state === 'closed') return side === 'debit' ? 'debit_account_closed' : 'credit_account_closed';
  if (account.state === 'frozen') return side === 'debit' ? 'debit_account_frozen' : 'credit_account_frozen';
  return undefined;
}

const overflows = (...values: bigint[]) => values.reduce((a, b) => a + b, 0n) > MAX_MINOR_UNITS;

function applyNew(state: BatchState, changes: Changes, r: TransferRequest, opts: ApplyOptions): TransferResult {
  const pending = (r.flags & TransferFlags.PENDING) !== 0;
  if (r.pendingId !== '') return 'pending_id_must_be_empty';
  if (r.timeoutSeconds !== 0 && !pending) return 'timeout_reserved_for_pending_transfer';
  if (r.debitAccountId === r.creditAccountId) return 'accounts_must_be_different';
  if (r.amount <= 0n) return 'amount_must_be_positive';
  if (!isCurrency(r.currency)) return 'invalid_currency';
  const dr = state.accounts.get(r.debitAccountId);
  if (!dr) return 'debit_account_not_found';
  const cr = state.accounts.get(r.creditAccountId);
  if (!cr) return 'credit_account_not_found';
  if (dr.currency !== r.currency || cr.currency !== r.currency) return 'currency_mismatch';
  const blocked = stateResult(dr, 'debit') ?? stateResult(cr, 'credit');
  if (blocked) return blocked;
  const amount = r.amount;
  if (overflows(dr.debitsPosted, dr.debitsPending, amount) || overflows(cr.creditsPosted, cr.creditsPending, amount)) return 'overflows';
  if ((dr.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS) !== 0 && amount > accountBalance(dr).available) {
    return 'exceeds_credits';
  }
  if ((cr.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS) !== 0 && cr.creditsPosted + cr.creditsPending + amount > cr.debitsPosted) {
    return 'exceeds_debits';
  }
  changes.touch(dr);
  changes.touch(cr);
  let expiresAt: Date | null = null;
  if (pending) {
    const timeout = Math.min(r.timeoutSeconds === 0 ? opts.defaultTimeoutSeconds : r.timeoutSeconds, MAX_PENDING_TIMEOUT_SECONDS);
    expiresAt = new Date(opts.now.getTime() + timeout * 1000);
    dr.debitsPending += amount;
    cr.creditsPending += amount;
  } else {
    dr.debitsPosted += amount;
    cr.creditsPosted += amount;
  }
  const transfer: Transfer = {
    id: r.id,
    debitAccountId: dr.id,
    creditAccountId: cr.id,
    amount,
    currency: dr.currency,
    flags: r.flags,
    pendingId: null,
    timeoutSeconds: r.timeoutSeconds,
    expiresAt,
    reference: r.reference,
    description: r.description,
    createdAt: opts.now,
  };
  changes.record(transfer, pending ? 'transfer.pending' : 'transfer.posted');
  const kind: EntryKind = pending ? 'pending' : 'posted';
  const posted = pending ? 0n : amount;
  const held = pending ? amount : 0n;
  changes.entry(dr, 'debit', kind, r.id, r.id, posted, held, opts.now);
  changes.entry(cr, 'credit', kind, r.id, r.id, posted, held, opts.now);
  return 'ok';
}

function applyPostOrVoid(state: BatchState, changes: Changes, r: TransferRequest, opts: ApplyOptions): TransferResult {
  const post = (r.flags & TransferFlags.POST_PENDING) !== 0;
  if (r.pendingId === '') return 'pending_id_required';
  if (r.timeoutSeconds !== 0) return 'timeout_reserved_for_pending_transfer';
  const p = state.transfers.get(r.pendingId);
  if (!p) return 'pending_transfer_not_found';
  if ((p.flags & TransferFlags.PENDING) === 0) return 'pending_transfer_not_pending';
  if (r.debitAccountId !== '' && r.debitAccountId !== p.debitAccountId) return 'pending_transfer_has_different_debit_account';
  if (r.creditAccountId !== '' && r.creditAccountId !== p.creditAccountId) return 'pending_transfer_has_different_credit_account';
  if (r.currency !== '' && r.currency !== p.currency) return 'pending_transfer_has_different_currency';
  const resolution = state.resolutions.get(p.id);
  if (resolution?.kind === 'posted') return 'pending_transfer_already_posted';
  if (resolution?.kind === 'voided') return 'pending_transfer_already_voided';
  if (resolution?.kind === 'expired') return 'pending_transfer_expired';
  if (p.expiresAt !== null && p.expiresAt.getTime() <= opts.now.getTime()) return 'pending_transfer_expired';
  if (r.amount < 0n) return 'amount_must_be_positive';
  let amount: bigint;
  if (post) {
    amount = r.amount === 0n ? p.amount : r.amount;
    if (amount > p.amount) return 'exceeds_pending_transfer_amount';
  } else {
    if (r.amount !== 0n && r.amount !== p.amount) return 'pending_transfer_has_different_amount';
    amount = p.amount;
  }
  const dr = state.accounts.get(p.debitAccountId);
  const cr = state.accounts.get(p.creditAccountId);
  assert(dr && cr, `accounts of hold ${p.id} were not loaded`);
  // Releasing a hold is always allowed (it is how a failed payment is compensated); capturing
  // into or out of a frozen or closed account is not.
  if (post) {
    const blocked = stateResult(dr, 'debit') ?? stateResult(cr, 'credit');
    if (blocked) return blocked;
    if (overflows(dr.debitsPosted, amount) || overflows(cr.creditsPosted, amount)) return 'overflows';
  }
  changes.touch(dr);
  changes.touch(cr);
  dr.debitsPending -= p.amount;
  cr.creditsPending -= p.amount;
  assert(dr.debitsPending >= 0n && cr.creditsPending >= 0n, `pending balance below zero releasing ${p.id}`);
  if (post) {
    dr.debitsPosted += amount;
    cr.creditsPosted += amount;
  }
  const transfer: Transfer = {
    id: r.id,
    debitAccountId: p.debitAccountId,
    creditAccountId: p.creditAccountId,
    amount,
    currency: p.currency,
    flags: r.flags,
    pendingId: p.id,
    timeoutSeconds: 0,
    expiresAt: null,
    reference: r.reference,
    description: r.description,
    createdAt: opts.now,
  };
  changes.record(transfer, post ? 'transfer.posted' : 'transfer.voided');
  const res: Resolution = { pendingId: p.id, kind: post ? 'posted' : 'voided', transferId: r.id, amount, resolvedAt: opts.now };
  changes.resolutions.push(res);
  state.resolutions.set(p.id, res);
  const kind: EntryKind = post ? 'post_pending' : 'void_pending';
  const posted = post ? amount : 0n;
  changes.entry(dr, 'debit', kind, r.id, p.id, posted, -p.amount, opts.now);
  changes.entry(cr, 'credit', kind, r.id, p.id, posted, -p.amount, opts.now);
  return 'ok';
}

function applyOne(state: BatchState, changes: Changes, r: TransferRequest, opts: ApplyOptions): TransferResult {
  if (!isUuid(r.id)) return 'invalid_id';
  if (!validTransferFlags(r.flags)) return 'flags_are_mutually_exclusive';
  const existing = state.transfers.get(r.id);
  if (existing) return compareExisting(existing, r);
  return isPostOrVoid(r.flags) ? applyPostOrVoid(state, changes, r, opts) : applyNew(state, changes, r, opts);
}

/**
 * Applies the transfers of a batch in memory, in order. Each request group is one client call:
 * linked chains never span calls. Every transfer gets its own result; a failure fails only its
 * own linked chain. `state` is changed in place and the changes to write are returned.
 */
export function applyTransfers(state: BatchState, groups: readonly (readonly TransferRequest[])[], opts: ApplyOptions): { results: TransferResult[][]; changes: BatchChanges } {
  const changes = new Changes(state);
  const results: TransferResult[][] = [];
  for (const group of groups) {
    const out: TransferResult[] = new Array<TransferResult>(group.length);
    let i = 0;
    while (i < group.length) {
      // A chain runs from i to the first transfer without the linked flag.
      let end = i;
      while (end < group.length && ((group[end] as TransferRequest).flags & TransferFlags.LINKED) !== 0) end++;
      if (end === group.length) {
        // The last transfer of the call is linked to nothing: the chain is open and fails whole.
        for (let k = i; k < group.length; k++) out[k] = k === group.length - 1 ? 'linked_event_chain_open' : 'linked_event_failed';
        break;
      }
      if (end === i) {
        out[i] = applyOne(state, changes, group[i] as TransferRequest, opts);
        i++;
        continue;
      }
      changes.beginChain();
      let failedAt = -1;
      for (let k = i; k <= end; k++) {
        const result = applyOne(state, changes, group[k] as TransferRequest, opts);
        out[k] = result;
        if (!isSuccess(result)) {
          failedAt = k;
          break;
        }
      }
      if (failedAt >= 0) {
        changes.rollbackChain();
        for (let k = i; k <= end; k++) if (k !== failedAt) out[k] = 'linked_event_failed';
      } else {
        changes.endChain();
      }
      i = end + 1;
    }
    results.push(out);
  }
  const refusals = results.reduce((n, out) => n + out.filter((r) => !isSuccess(r)).length, 0);
  return { results, changes: changes.result(refusals) };
}

/** Releases holds whose timeout passed and that have no resolution yet. */
export function expireHolds(state: BatchState, pendingIds: readonly string[], now: Date): BatchChanges {
  const changes = new Changes(state);
  for (const id of pendingIds) {
    const p = state.transfers.get(id);
    if (!p || (p.flags & TransferFlags.PENDING) === 0 || state.resolutions.has(id)) continue;
    if (p.expiresAt === null || p.expiresAt.getTime() > now.getTime()) continue;
    const dr = state.accounts.get(p.debitAccountId);
    const cr = state.accounts.get(p.creditAccountId);
    assert(dr && cr, `accounts of hold ${p.id} were not loaded`);
    changes.touch(dr);
    changes.touch(cr);
    dr.debitsPending -= p.amount;
    cr.creditsPending -= p.amount;
    assert(dr.debitsPending >= 0n && cr.creditsPending >= 0n, `pending balance below zero expiring ${p.id}`);
    const res: Resolution = { pendingId: p.id, kind: 'expired', transferId: null, amount: p.amount, resolvedAt: now };
    changes.resolutions.push(res);
    state.resolutions.set(p.id, res);
    changes.events.push({ type: 'transfer.expired', transfer: p });
    changes.entry(dr, 'debit', 'expired', p.id, p.id, 0n, -p.amount, now);
    changes.entry(cr, 'credit', 'expired', p.id, p.id, 0n, -p.amount, now);
  }
  // A hold that is not due or already resolved is skipped, not refused: nobody asked for it.
  return changes.result(0);
}

/** Which accounts and transfers a batch must load before it can be applied. */
export function batchFootprint(groups: readonly (readonly TransferRequest[])[]): { transferIds: string[]; pendingIds: string[]; accountIds: string[] } {
  const transferIds = new Set<string>();
  const pendingIds = new Set<string>();
  const accountIds = new Set<string>();
  for (const group of groups) {
    for (const r of group) {
      if (isUuid(r.id)) transferIds.add(r.id);
      if (isUuid(r.pendingId)) pendingIds.add(r.pendingId);
      if (isUuid(r.debitAccountId)) accountIds.add(r.debitAccountId);
      if (isUuid(r.creditAccountId)) accountIds.add(r.creditAccountId);
    }
  }
  return { transferIds: [...transferIds], pendingIds: [...pendingIds], accountIds: [...accountIds] };
}
