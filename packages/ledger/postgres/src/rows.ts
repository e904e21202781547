import type { Currency } from '@bank/kernel';
import { sqlTimestamp } from '@bank/platform';
import type { AccountState, LedgerAccount, Resolution, Transfer } from '@bank/ledger-core';

/** A row as pg returns it: column name to value (bigints as strings, timestamps as Dates). */
export type Row = Record<string, unknown>;

export const big = (v: unknown): bigint => BigInt(v as string);
export const str = (v: bigint): string => v.toString();

export function toAccount(r: Row): LedgerAccount {
  return {
    id: r.id as string,
    currency: (r.currency as string) as Currency,
    kind: r.kind as LedgerAccount['kind'],
    state: r.state as AccountState,
    flags: Number(r.flags),
    overdraftLimit: big(r.overdraft_limit),
    debitsPosted: big(r.debits_posted),
    creditsPosted: big(r.credits_posted),
    debitsPending: big(r.debits_pending),
    creditsPending: big(r.credits_pending),
    ownerId: (r.owner_id as string | null) ?? null,
    createdAt: sqlTimestamp(r.created_at),
  };
}

export function toTransfer(r: Row): Transfer {
  return {
    id: r.id as string,
    debitAccountId: r.debit_account_id as string,
    creditAccountId: r.credit_account_id as string,
    amount: big(r.amount),
    currency: (r.currency as string) as Currency,
    flags: Number(r.flags),
    pendingId: (r.pending_id as string | null) ?? null,
    timeoutSeconds: Number(r.timeout_seconds),
    expiresAt: r.expires_at === null ? null : sqlTimestamp(r.expires_at),
    reference: r.reference as string,
    description: r.description as string,
    createdAt: sqlTimestamp(r.created_at),
  };
}

export function toResolution(r: Row): Resolution {
  return { pendingId: r.pending_id as string, kind: r.kind as Resolution['kind'], transferId: (r.transfer_id as string | null) ?? null, amount: big(r.amount), resolvedAt: sqlTimestamp(r.resolved_at) };
}

export const ACCOUNT_COLUMNS = 'id, currency, kind, state, flags, overdraft_limit, debits_posted, credits_posted, debits_pending, credits_pending, owner_id, created_at';
export const ACCOUNT_COLUMNS_VERSIONED = `${ACCOUNT_COLUMNS}, version`;
export const RESOLUTION_COLUMNS = 'pending_id, kind, transfer_id, amount, resolved_at';
/** Bigints travel as JSON strings: a JSON number would lose precision past 2^53 in JavaScript. */
const BIGINT_COLUMNS = new Set(['overdraft_limit', 'debits_posted', 'credits_posted', 'debits_pending', 'credits_pending', 'version', 'amount']);
/** `json_build_object` arguments for a column list, keyed like the rows the mappers read. */
export function jsonColumns(columns: string): string {
  return columns
    .split(', ')
    .map((c) => `'${c}', ${c}${BIGINT_COLUMNS.has(c) ? '::text' : ''}`)
    .join(', ');
}
export const TRANSFER_COLUMNS = 'id, debit_account_id, credit_account_id, amount, currency, flags, pending_id, timeout_seconds, expires_at, reference, description, created_at';
