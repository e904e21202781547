import type { Workload } from '@bank/contracts';
import { DomainError, depositIdOfReference, isCurrency, isUuid, paymentIdOfReference } from '@bank/kernel';
import { SYSTEM_KINDS, TransferFlags, systemAccountId, type TransferRequest } from '@bank/ledger-core';

const BARRIER_SUFFIX = ':barrier';

/**
 * Why `caller` may not send `t`, or undefined when it may. The settlement account of a currency
 * is where the bank's money enters: debiting it into a customer account creates money, so
 * payment-service (whose calls are its own, with no operator behind them) may debit it only in
 * the two shapes its flows make: a deposit's transfer (reference `deposit:<id>`) to a customer
 * account, and a payment's barrier, a hold into the suspense account (`payment:<id>:barrier`).
 * bank-cli's certificate is an operator's grant; the trust table admits no one else.
 */
function settlementDebitRefusal(caller: Workload, t: TransferRequest): string | undefined {
  if (caller !== 'payment-service' || !isCurrency(t.currency)) return undefined;
  const currency = t.currency;
  if (t.debitAccountId.toLowerCase() !== systemAccountId(currency, 'settlement')) return undefined;
  const credit = t.creditAccountId.toLowerCase();
  const creditIsSystem = SYSTEM_KINDS.some((kind) => systemAccountId(currency, kind) === credit);
  const depositId = depositIdOfReference(t.reference);
  if (depositId !== undefined && isUuid(depositId) && !creditIsSystem && (t.flags & TransferFlags.PENDING) === 0) return undefined;
  const barrierOf = paymentIdOfReference(t.reference);
  const isBarrier = barrierOf !== undefined && barrierOf.endsWith(BARRIER_SUFFIX) && isUuid(barrierOf.slice(0, -BARRIER_SUFFIX.length));
  if (isBarrier && credit === systemAccountId(currency, 'suspense') && (t.flags & TransferFlags.PENDING) !== 0) return undefined;
  return `${caller} may debit the ${currency} settlement account only with a deposit's transfer or a payment's barrier hold`;
}

/** Refuses the whole call (PERMISSION_DENIED) when any transfer in it is not the caller's to send. */
export function authorizeTransfers(caller: Workload, transfers: readonly TransferRequest[]): void {
  for (const [index, t] of transfers.entries()) {
    const refusal = settlementDebitRefusal(caller, t);
    if (refusal !== undefined) throw new DomainError('PERMISSION_DENIED', `transfers[${index}]: ${refusal}`);
  }
}
