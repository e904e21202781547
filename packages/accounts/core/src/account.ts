import { fail, ok, type Currency, type Result } from '@bank/kernel';

export type AccountStatus = 'active' | 'frozen' | 'closed';

export interface BankAccount {
  readonly id: string;
  readonly ownerId: string;
  readonly currency: Currency;
  readonly status: AccountStatus;
  readonly frozenReason: string | null;
  readonly createdAt: Date;
  /** Bumped on every change: a save that finds another version lost a race and is retried. */
  readonly version: number;
}

export type AccountEventType = 'account.opened' | 'account.frozen' | 'account.unfrozen' | 'account.closed';

export interface AccountChange {
  readonly account: BankAccount;
  readonly event: AccountEventType;
}

export const MAX_FREEZE_REASON_LENGTH = 500;

export type TransitionError = 'ACCOUNT_FROZEN' | 'ACCOUNT_CLOSED' | 'ACCOUNT_NOT_FROZEN' | 'ACCOUNT_NOT_EMPTY' | 'VALIDATION_FAILED';

/**
 * The lifecycle of a bank account: active → frozen ⇄ active → closed. A closed account is
 * final; only an active account with no balance and no holds can be closed.
 */
export function openAccount(id: string, ownerId: string, currency: Currency, now: Date): AccountChange {
  return { account: { id, ownerId, currency, status: 'active', frozenReason: null, createdAt: now, version: 1 }, event: 'account.opened' };
}

export function freeze(a: BankAccount, reason: string): Result<AccountChange, TransitionError> {
  const trimmed = reason.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_FREEZE_REASON_LENGTH) return fail('VALIDATION_FAILED', `a reason of 1 to ${MAX_FREEZE_REASON_LENGTH} characters is required`);
  if (a.status === 'closed') return fail('ACCOUNT_CLOSED', 'a closed account cannot be frozen');
  if (a.status === 'frozen') return fail('ACCOUNT_FROZEN', 'the account is already frozen');
  return ok({ account: { ...a, status: 'frozen', frozenReason: trimmed, version: a.version + 1 }, event: 'account.frozen' });
}

export function unfreeze(a: BankAccount): Result<AccountChange, TransitionError> {
  if (a.status === 'closed') return fail('ACCOUNT_CLOSED', 'a closed account cannot be unfrozen');
  if (a.status !== 'frozen') return fail('ACCOUNT_NOT_FROZEN', 'the account is not frozen');
  return ok({ account: { ...a, status: 'active', frozenReason: null, version: a.version + 1 }, event: 'account.unfrozen' });
}

/** The ledger's balance of an account as it computes it: posted, and holds out (pending) and in (incoming). */
export interface LedgerBalance {
  readonly posted: bigint;
  readonly pending: bigint;
  readonly incoming: bigint;
}

/** `balance` is what the ledger holds for the account: closing needs no money on it and no hold either way. */
export function close(a: BankAccount, balance: LedgerBalance): Result<AccountChange, TransitionError> {
  if (a.status === 'closed') return fail('ACCOUNT_CLOSED', 'the account is already closed');
  if (a.status === 'frozen') return fail('ACCOUNT_FROZEN', 'a frozen account cannot be closed');
  if (balance.posted !== 0n || balance.pending !== 0n || balance.incoming !== 0n) return fail('ACCOUNT_NOT_EMPTY', 'the account still has a balance or holds');
  return ok({ account: { ...a, status: 'closed', version: a.version + 1 }, event: 'account.closed' });
}
