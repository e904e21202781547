import { ledgerV1, paymentV1, userV1 } from '@bank/contracts';
import { ROLES, assert, isCurrency, isUuid, paymentIdOfReference, type Currency } from '@bank/kernel';
import { MAX_API_AMOUNT, type PaymentView } from '@bank/payments-core';
import type { AccountBody, DepositBody, EntryBody, PaymentBody, ProfileBody } from '../http/schemas';

/**
 * A ledger total as the API carries it (schemas.ts's SignedAmount): a JSON integer while a number
 * holds it exactly, else its decimal digits as a string, never a rounded number and never a 500.
 */
export function jsonAmount(minor: bigint): number | string {
  // MAX_API_AMOUNT is the largest integer a JSON number carries exactly (2^53 − 1).
  return minor > MAX_API_AMOUNT || minor < -MAX_API_AMOUNT ? minor.toString() : Number(minor);
}

/** A payment's or deposit's amount: the API never takes one above MAX_API_AMOUNT, so none comes back. */
function paymentAmount(minor: bigint): number {
  assert(minor > 0n && minor <= MAX_API_AMOUNT, `payment amount ${minor} outside the API's range`);
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

const STATUS: Record<number, AccountBody['status']> = {
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_ACTIVE]: 'active',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_FROZEN]: 'frozen',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_CLOSED]: 'closed',
};

/**
 * API.md's Account: the account from user-service with its balance as the ledger computes it. A
 * just-opened account may not have reached the ledger yet: its balance is then zero.
 */
export function accountView(a: userV1.BankAccount, l: ledgerV1.Account | undefined): AccountBody {
  const { posted, pending, available } = l?.balance ?? { posted: 0n, pending: 0n, available: 0n };
  return {
    id: a.id,
    ownerId: a.ownerId,
    currency: currencyOf(a.currency),
    status: named(STATUS, a.status, 'account status'),
    balance: { posted: jsonAmount(posted), pending: jsonAmount(pending), available: jsonAmount(available) },
    createdAt: isoOf(a.createdAt),
  };
}

const ENTRY_STATUS: Record<number, EntryBody['status']> = {
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
export function paymentView(p: paymentV1.Payment): PaymentBody {
  return {
    id: p.id,
    sourceAccountId: p.sourceAccountId,
    destinationAccountId: p.destinationAccountId,
    amount: paymentAmount(p.amount),
    currency: currencyOf(p.currency),
    description: p.description,
    status: named(PAYMENT_STATUS, p.status, 'payment status'),
    failureCode: p.failureCode === '' ? null : p.failureCode,
    createdAt: isoOf(p.createdAt),
    completedAt: p.completedAt?.toISOString() ?? null,
  };
}

/** API.md's deposit answer. */
export function depositView(d: paymentV1.Deposit): DepositBody {
  assert(d.status === 'completed', `deposit status ${d.status} from a peer`);
  return { id: d.id, accountId: d.accountId, amount: paymentAmount(d.amount), currency: currencyOf(d.currency), status: d.status };
}

/** API.md's Entry: one statement line, a hold and its capture or release being one line. */
export function entryView(e: ledgerV1.StatementEntry): EntryBody {
  return {
    id: e.id,
    transferId: e.transferId,
    // Payments name themselves in the transfer's reference (payments-core); other references are not payment ids.
    paymentId: paymentIdOf(e.reference),
    direction: named(ENTRY_DIRECTION, e.direction, 'entry direction'),
    amount: jsonAmount(e.amount),
    currency: currencyOf(e.currency),
    balanceAfter: jsonAmount(e.balanceAfter),
    status: named(ENTRY_STATUS, e.status, 'entry status'),
    description: e.description,
    createdAt: isoOf(e.createdAt),
  };
}

export function profileView(p: userV1.Profile, roles: readonly string[]): ProfileBody {
  return { id: p.id, email: p.email, fullName: p.fullName, phone: p.phone || null, roles: roles.filter(isRole), createdAt: isoOf(p.createdAt) };
}


/** Every resource has a creation time; a peer that sends none has a bug, not a resource without one. */
function isoOf(at: Date | undefined): string {
  assert(at !== undefined, 'a peer sent a resource without its creation time');
  return at.toISOString();
}

function isRole(role: string): role is ProfileBody['roles'][number] {
  return (ROLES as readonly string[]).includes(role);
}

/** A currency from a peer is one the bank supports; another one is a bug upstream, not something to show. */
function currencyOf(code: string): Currency {
  assert(isCurrency(code), `unsupported currency ${code} from a peer`);
  return code;
}
