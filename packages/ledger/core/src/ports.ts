import type { BatchChanges, BatchState } from './apply';
import type { AccountState, CreateAccountResult, LedgerAccount, NewAccount, Resolution, Transfer } from './model';

/** What a batch must read before it can be applied. */
export interface Footprint {
  readonly transferIds: readonly string[];
  readonly pendingIds: readonly string[];
  readonly accountIds: readonly string[];
}

export type LineStatus = 'pending' | 'posted' | 'voided';

/** One customer statement line: a hold and its capture or release are one line. */
export interface StatementLine {
  /** The hold for a hold's line, else the transfer itself. */
  readonly transferId: string;
  readonly side: 'debit' | 'credit';
  readonly status: LineStatus;
  readonly amount: bigint;
  readonly currency: string;
  /** credits posted − debits posted of the account right after the line took effect. */
  readonly balanceAfter: bigint;
  readonly reference: string;
  readonly description: string;
  readonly createdAt: Date;
  /** The entry sequence at which the line took effect; statements page by it. */
  readonly sequence: bigint;
}

export interface Balances {
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

export interface InvariantViolation {
  readonly invariant: 'debits_equal_credits' | 'balance_equals_entries' | 'flags_respected' | 'single_resolution' | 'holds_match_pending';
  readonly detail: string;
}

export interface InvariantReport {
  readonly violations: InvariantViolation[];
  readonly accountsChecked: number;
  readonly transfersChecked: number;
}

/**
 * The database refused what a batch would write for its content (a value out of a column's range,
 * a CHECK constraint): a request the core let through that it should have refused. The batcher
 * then runs each call of the batch on its own, so the failure stays with the call that caused it.
 */
export class BatchRefused extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchRefused';
  }
}

/**
 * The ledger's storage. `transact` is the write path: it reads the footprint, hands the state to
 * `decide`, and writes what `decide` returns, with its events, atomically, and only if no account
 * it read has changed in between. When that fails (a concurrent batch changed an account, wrote
 * the same transfer id or resolved the same hold first) it runs again from a fresh read, a
 * bounded number of times; `decide` is therefore pure. A write refused for its content throws
 * BatchRefused.
 */
export interface LedgerStore {
  transact<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<T>;
  /** Holds whose timeout passed and that have no resolution, oldest first. */
  dueHolds(now: Date, limit: number): Promise<string[]>;
  createAccounts(accounts: readonly NewAccount[], now: Date): Promise<CreateAccountResult[]>;
  /**
   * Sets an account's state if `version` is newer than the last change applied (events can be
   * redelivered out of order); false when there is no such account.
   */
  setAccountState(id: string, state: AccountState, version: bigint): Promise<boolean>;
  lookupAccounts(ids: readonly string[]): Promise<LedgerAccount[]>;
  getTransfer(id: string): Promise<{ transfer: Transfer; resolution: Resolution | undefined } | undefined>;
  /** Lines newest first, strictly before `beforeSequence` when given. */
  statement(accountId: string, limit: number, beforeSequence: bigint | undefined): Promise<StatementLine[]>;
  balanceAt(accountId: string, at: Date): Promise<Balances | undefined>;
  verify(): Promise<InvariantReport>;
}
