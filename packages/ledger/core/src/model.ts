import type { Currency } from '@bank/kernel';

export type AccountState = 'active' | 'frozen' | 'closed';
export type AccountKind = 'customer' | 'settlement' | 'fees' | 'suspense';

/** Account flags, a bit set (the values are stored and travel over gRPC). */
export const AccountFlags = {
  NONE: 0,
  /** debits (posted + pending) may not exceed credits posted plus the overdraft limit. */
  DEBITS_MUST_NOT_EXCEED_CREDITS: 1,
  /** credits (posted + pending) may not exceed debits posted. */
  CREDITS_MUST_NOT_EXCEED_DEBITS: 2,
} as const;
const ACCOUNT_FLAGS_MASK = 3;

export function validAccountFlags(flags: number): boolean {
  return (flags & ~ACCOUNT_FLAGS_MASK) === 0 && (flags & 3) !== 3;
}

export interface LedgerAccount {
  readonly id: string;
  readonly currency: Currency;
  readonly kind: AccountKind;
  state: AccountState;
  readonly flags: number;
  readonly overdraftLimit: bigint;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
  readonly ownerId: string | null;
  readonly createdAt: Date;
}

/**
 * What an account's columns mean to its owner, the one home of these formulas: posted = credits −
 * debits posted; pending = debits on hold (money on its way out); incoming = credits on hold;
 * available = what a new debit may take, posted − pending + the overdraft limit. They cross gRPC
 * as computed fields, so that no caller restates them.
 */
export interface AccountBalance {
  readonly posted: bigint;
  readonly pending: bigint;
  readonly incoming: bigint;
  readonly available: bigint;
}

export function accountBalance(a: Pick<LedgerAccount, 'debitsPosted' | 'creditsPosted' | 'debitsPending' | 'creditsPending' | 'overdraftLimit'>): AccountBalance {
  const posted = postedBalance(a.debitsPosted, a.creditsPosted);
  return { posted, pending: a.debitsPending, incoming: a.creditsPending, available: posted - a.debitsPending + a.overdraftLimit };
}

/** An account's posted balance from its posted columns (also an entry's balance after it). */
export function postedBalance(debitsPosted: bigint, creditsPosted: bigint): bigint {
  return creditsPosted - debitsPosted;
}

export interface NewAccount {
  id: string;
  currency: string;
  kind: AccountKind;
  flags: number;
  overdraftLimit: bigint;
  ownerId: string | null;
}

export type CreateAccountResult = 'ok' | 'exists' | 'exists_with_different_fields' | 'invalid_id' | 'invalid_currency' | 'flags_are_mutually_exclusive' | 'invalid_overdraft_limit';

/** Transfer flags, a bit set. */
export const TransferFlags = {
  NONE: 0,
  /** This transfer and the next one in the same request succeed or fail together. */
  LINKED: 1,
  /** A hold: amounts move into the pending columns until posted, voided or expired. */
  PENDING: 2,
  /** Posts (captures) the pending transfer named by pendingId, fully or partly. */
  POST_PENDING: 4,
  /** Voids (releases) the pending transfer named by pendingId. */
  VOID_PENDING: 8,
} as const;
const TRANSFER_FLAGS_MASK = 15;

/** A transfer as a client sends it. Empty strings and zero mean "not given" where allowed. */
export interface TransferRequest {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  currency: string;
  flags: number;
  pendingId: string;
  timeoutSeconds: number;
  reference: string;
  description: string;
}

/** A transfer as recorded: immutable, with accounts and currency resolved for post/void. */
export interface Transfer {
  readonly id: string;
  readonly debitAccountId: string;
  readonly creditAccountId: string;
  /** Posted: the amount moved. Pending: the amount held. Post: the amount captured. Void: the amount released. */
  readonly amount: bigint;
  readonly currency: Currency;
  readonly flags: number;
  readonly pendingId: string | null;
  readonly timeoutSeconds: number;
  readonly expiresAt: Date | null;
  readonly reference: string;
  readonly description: string;
  readonly createdAt: Date;
}

export type ResolutionKind = 'posted' | 'voided' | 'expired';

/** How a hold ended; a hold has at most one (the store enforces it with a key). */
export interface Resolution {
  readonly pendingId: string;
  readonly kind: ResolutionKind;
  /** The post or void transfer; null for an expiry. */
  readonly transferId: string | null;
  readonly amount: bigint;
  readonly resolvedAt: Date;
}

export type EntryKind = 'posted' | 'pending' | 'post_pending' | 'void_pending' | 'expired';

/**
 * One side of one balance change. Deltas add to the account's columns on its side; the "after"
 * values are the account's balances right after the entry, so statements and point-in-time
 * balances need no summing.
 */
export interface Entry {
  readonly accountId: string;
  /** The transfer that caused the entry (for an expiry, the hold itself). */
  readonly transferId: string;
  /** The statement line the entry belongs to: the hold for post/void/expiry, else the transfer. */
  readonly lineTransferId: string;
  readonly kind: EntryKind;
  readonly side: 'debit' | 'credit';
  readonly postedDelta: bigint;
  readonly pendingDelta: bigint;
  readonly debitsPostedAfter: bigint;
  readonly creditsPostedAfter: bigint;
  readonly debitsPendingAfter: bigint;
  readonly creditsPendingAfter: bigint;
  readonly createdAt: Date;
}

export const TRANSFER_RESULTS = [
  'ok',
  'exists',
  'linked_event_failed',
  'linked_event_chain_open',
  'invalid_id',
  'flags_are_mutually_exclusive',
  'accounts_must_be_different',
  'amount_must_be_positive',
  'invalid_currency',
  'pending_id_must_be_empty',
  'pending_id_required',
  'timeout_reserved_for_pending_transfer',
  'debit_account_not_found',
  'credit_account_not_found',
  'currency_mismatch',
  'debit_account_frozen',
  'credit_account_frozen',
  'debit_account_closed',
  'credit_account_closed',
  'exceeds_credits',
  'exceeds_debits',
  'overflows',
  'pending_transfer_not_found',
  'pending_transfer_not_pending',
  'pending_transfer_already_posted',
  'pending_transfer_already_voided',
  'pending_transfer_expired',
  'pending_transfer_has_different_debit_account',
  'pending_transfer_has_different_credit_account',
  'pending_transfer_has_different_currency',
  'exceeds_pending_transfer_amount',
  'pending_transfer_has_different_amount',
  'exists_with_different_flags',
  'exists_with_different_debit_account_id',
  'exists_with_different_credit_account_id',
  'exists_with_different_amount',
  'exists_with_different_currency',
  'exists_with_different_pending_id',
  'exists_with_different_timeout',
  'exists_with_different_reference',
  'exists_with_different_description',
] as const;

export type TransferResult = (typeof TRANSFER_RESULTS)[number];

/** Successful outcomes: the transfer is (now or already) recorded as asked. */
export function isSuccess(result: TransferResult): boolean {
  return result === 'ok' || result === 'exists';
}

export function validTransferFlags(flags: number): boolean {
  if ((flags & ~TRANSFER_FLAGS_MASK) !== 0) return false;
  const kinds = flags & (TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING);
  return (kinds & (kinds - 1)) === 0;
}

/** Limits of one CreateTransfers call. */
export const MAX_TRANSFERS_PER_REQUEST = 8_000;
/** A hold lives at most this long; a longer timeout is clamped. */
export const MAX_PENDING_TIMEOUT_SECONDS = 30 * 24 * 3600;
/** The largest timeout a transfer can carry at all (it is stored as a 32-bit integer); above it the call is refused. */
export const MAX_TIMEOUT_SECONDS = 2 ** 31 - 1;
export const MAX_REFERENCE_LENGTH = 255;
export const MAX_DESCRIPTION_LENGTH = 500;
