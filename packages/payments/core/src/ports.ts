import type { Deposit, IdempotencyRecord, IdempotencyScope, Payment } from './model';
import type { LedgerResult } from './saga';

/** A bank account as payments need to know it. */
export interface AccountInfo {
  readonly id: string;
  readonly ownerId: string;
  readonly currency: string;
  readonly state: 'active' | 'frozen' | 'closed';
}

/** Where accounts are looked up: whom they belong to, their currency and state. */
export interface AccountDirectory {
  find(ids: readonly string[]): Promise<Map<string, AccountInfo>>;
  /** account.opened: the account as it starts (an earlier look-up may have recorded it already). */
  recordOpened(account: AccountInfo): Promise<void>;
  /**
   * A state change, in the event's per-account sequence: an older event arriving late never
   * undoes a newer one. False when the account is not known yet.
   */
  recordState(id: string, state: AccountInfo['state'], sequence: number): Promise<boolean>;
}

/**
 * The ledger, as the saga's steps use it. Each method sends one transfer (the barrier: a linked
 * pair) with the id it is given, and answers the ledger's result name; it throws when the ledger
 * could not be asked (unreachable, a timeout), and the step is then tried again later.
 */
export interface PaymentLedger {
  hold(p: Payment, holdId: string, timeoutSeconds: number): Promise<LedgerResult>;
  capture(p: Payment, captureId: string, holdId: string): Promise<LedgerResult>;
  void(p: Payment, voidId: string, holdId: string): Promise<LedgerResult>;
  barrier(p: Payment, holdId: string, voidId: string): Promise<[LedgerResult, LedgerResult]>;
  deposit(d: Deposit, transferId: string): Promise<LedgerResult>;
}

export type SaveOutcome = 'saved' | 'conflict' | 'limit_exceeded';

/** A page of payments, newest first. */
export interface PaymentPage {
  readonly payments: Payment[];
  readonly nextCursor: string;
}

export type Created = { readonly created: true } | { readonly created: false; readonly existing: IdempotencyRecord };

/**
 * The payments database. Every write that changes what other services must learn carries its
 * integration event into the outbox in the same transaction.
 */
export interface PaymentStore {
  /** The payment, its idempotency record and the event that starts its saga, in one transaction; or the key's existing record. */
  createPayment(p: Payment, record: IdempotencyRecord): Promise<Created>;
  getPayment(id: string): Promise<Payment | undefined>;
  /**
   * Saves a transition if the payment still has `before.version`, with the event of a terminal
   * status and the change to the owner's daily outgoing total; a reservation that would pass
   * `dailyLimit` saves nothing and answers `limit_exceeded`.
   */
  savePayment(before: Payment, after: Payment, dailyLimit: bigint): Promise<SaveOutcome>;
  /** Payments from or to the account, newest first; `cursor` is a previous page's nextCursor. */
  listPayments(accountId: string, limit: number, cursor: string): Promise<PaymentPage>;
  /** Ids of sagas that have not ended and whose deadline passed, oldest deadline first. */
  duePayments(now: Date, limit: number): Promise<string[]>;
  getIdempotency(userId: string, scope: IdempotencyScope, key: string): Promise<IdempotencyRecord | undefined>;
  /** Records the answer given, so that a repeat gets the same one. */
  completeIdempotency(userId: string, scope: IdempotencyScope, key: string, status: number, body: unknown): Promise<void>;
  /** Deletes records created before `before`, at most `limit`; answers how many went. */
  purgeIdempotency(before: Date, limit: number): Promise<number>;
  createDeposit(d: Deposit, record: IdempotencyRecord): Promise<Created>;
  getDeposit(id: string): Promise<Deposit | undefined>;
  /** The deposit's outcome, its event (when completed) and the key's answer, in one transaction. */
  finishDeposit(d: Deposit, status: number, body: unknown): Promise<void>;
  /** Deposits still pending that were created before `before`. */
  pendingDeposits(before: Date, limit: number): Promise<string[]>;
}
