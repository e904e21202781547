import { ledgerV1, userV1 } from '@bank/contracts';
import { isUuid } from '@bank/kernel';
import { paymentIdOfReference, type PaymentView } from '@bank/payments-core';
import { paymentV1 } from '@bank/contracts';


/** Money leaves as a JSON integer of minor units; beyond 2^53 it could not be read back exactly. */
export function jsonAmount(minor: bigint): number {
  if (minor > BigInt(Number.MAX_SAFE_INTEGER) || minor < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error('amount outside the JSON safe-integer range');
  return Number(minor);
}

/**
 * A peer's enum value as the API names it. A value this gateway does not know (a newer peer, a
 * bug) fails the response rather than being shown as some default: an account is never shown
 * active, nor an entry posted, on a guess.
 */
function named<T extends string>(table: Readonly<Record<number, T>>, value: number, what: string): T {
  const name = table[value];
  if (name === undefined) throw new Error(`unknown ${what} ${value} from a peer`);
  return name;
}

const STATUS: Record<number, string> = {
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_ACTIVE]: 'active',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_FROZEN]: 'frozen',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_CLOSED]: 'closed',
};

/**
 * API.md's Account: the account from user-service with its balance as the ledger computes it. A
 * just-opened account may not have reached the ledger yet: its balance is then zero.
 */
export function accountView(a: userV1.BankAccount, l: ledgerV1.Account | undefined) {
  const { posted, pending, available } = l?.balance ?? { posted: 0n, pending: 0n, available: 0n };
  return {
    id: a.id,
    ownerId: a.ownerId,
    currency: a.currency,
    status: named(STATUS, a.status, 'account status'),
    balance: { posted: jsonAmount(posted), pending: jsonAmount(pending), available: jsonAmount(available) },
    createdAt: a.createdAt?.toISOString() ?? null,
  };
}

const ENTRY_STATUS: Record<number, string> = {
  [ledgerV1.EntryStatus.ENTRY_STATUS_PENDING]: 'pending',
  [ledgerV1.EntryStatus.ENTRY_STATUS_POSTED]: 'posted',
  [ledgerV1.EntryStatus.ENTRY_STATUS_VOIDED]: 'voided',
};

const ENTRY_DIRECTION: Record<number, 'debit' | 'credit'> = {
  [ledgerV1.EntryDirection.ENTRY_DIRECTION_DEBIT]: 'debit',
  [ledgerV1.EntryDirection.ENTRY_DIRECTION_CREDIT]: 'credit',
};

function paymentIdOf(reference: string): string | null {
  const id = paymentIdOfReference(reference);
  return isUuid(id) ? id : null;
}

const PAYMENT_STATUS: Record<number, PaymentView['status']> = {
  [paymentV1.PaymentStatus.PAYMENT_STATUS_PENDING]: 'pending',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_COMPLETED]: 'completed',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_FAILED]: 'failed',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_CANCELLED]: 'cancelled',
};

/** API.md's Payment. */
export function paymentView(p: paymentV1.Payment) {
  return {
    id: p.id,
    sourceAccountId: p.sourceAccountId,
    destinationAccountId: p.destinationAccountId,
    amount: jsonAmount(p.amount),
    currency: p.currency,
    description: p.description,
    status: named(PAYMENT_STATUS, p.status, 'payment status'),
    failureCode: p.failureCode === '' ? null : p.failureCode,
    createdAt: p.createdAt?.toISOString() ?? null,
    completedAt: p.completedAt?.toISOString() ?? null,
  };
}

/** API.md's deposit answer. */
export function depositView(d: paymentV1.Deposit) {
  return { id: d.id, accountId: d.accountId, amount: jsonAmount(d.amount), currency: d.currency, status: d.status };
}

/** API.md's Entry: one statement line, a hold and its capture or release being one line. */
export function entryView(e: ledgerV1.StatementEntry) {
  return {
    id: e.id,
    transferId: e.transferId,
    // Payments name themselves in the transfer's reference (payments-core); other references are not payment ids.
    paymentId: paymentIdOf(e.reference),
    direction: named(ENTRY_DIRECTION, e.direction, 'entry direction'),
    amount: jsonAmount(e.amount),
    currency: e.currency,
    balanceAfter: jsonAmount(e.balanceAfter),
    status: named(ENTRY_STATUS, e.status, 'entry status'),
    description: e.description,
    createdAt: e.createdAt?.toISOString() ?? null,
  };
}

export function profileView(p: userV1.Profile, roles: readonly string[]) {
  return { id: p.id, email: p.email, fullName: p.fullName, phone: p.phone || null, roles: [...roles], createdAt: p.createdAt?.toISOString() ?? null };
}

