/**
 * The reference a ledger transfer carries names the business operation it belongs to, so that
 * the ledger's events find their payment, the ledger can tell a deposit from other movements of
 * the settlement account, and an operator's audit joins the services' records. One home for the
 * format: payments write it, the ledger and the operator tools read it.
 */
const PAYMENT_PREFIX = 'payment:';
const DEPOSIT_PREFIX = 'deposit:';

export const paymentReference = (paymentId: string): string => `${PAYMENT_PREFIX}${paymentId}`;
export const depositReference = (depositId: string): string => `${DEPOSIT_PREFIX}${depositId}`;

/** What follows `payment:`: a payment id, or `<id>:barrier` for a payment's barrier (not a UUID). */
export function paymentIdOfReference(reference: string): string | undefined {
  return reference.startsWith(PAYMENT_PREFIX) ? reference.slice(PAYMENT_PREFIX.length) : undefined;
}

/** The deposit a transfer belongs to, if any. */
export function depositIdOfReference(reference: string): string | undefined {
  return reference.startsWith(DEPOSIT_PREFIX) ? reference.slice(DEPOSIT_PREFIX.length) : undefined;
}
