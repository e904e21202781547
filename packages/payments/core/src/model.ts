import { deterministicId, type Currency } from '@bank/kernel';

/** What a customer sees. */
export type PaymentStatus = 'pending' | 'completed' | 'failed' | 'cancelled';

/**
 * Where the saga is. `accepted`: stored, nothing asked of the ledger yet. `hold_placed`: the
 * source's money is on hold. `checked`: the checks passed (the daily limit is reserved).
 * `captured`: the hold is posted (completed). `compensating`: the hold is to be voided (a failed
 * check, a refused capture, a cancel). `compensated`: nothing of the payment is left in the
 * ledger. `needs_attention`: compensation kept failing; an operator decides.
 */
export type SagaStep = 'accepted' | 'hold_placed' | 'checked' | 'captured' | 'compensating' | 'compensated' | 'needs_attention';

export const TERMINAL_STEPS: ReadonlySet<SagaStep> = new Set(['captured', 'compensated', 'needs_attention']);

export interface Payment {
  readonly id: string;
  /** The user who asked for it: the source's owner. */
  readonly initiatorId: string;
  readonly sourceAccountId: string;
  readonly destinationAccountId: string;
  readonly destinationOwnerId: string;
  readonly amount: bigint;
  readonly currency: Currency;
  readonly description: string;
  readonly status: PaymentStatus;
  readonly failureCode: string | null;
  readonly step: SagaStep;
  /** When each step was reached (ISO strings, persisted with the payment). */
  readonly stepTimes: Readonly<Partial<Record<SagaStep, string>>>;
  /** Failed attempts at the current step; reset when the step changes. */
  readonly attempts: number;
  /** When the sweeper takes the saga up again if it has not moved by then. */
  readonly deadlineAt: Date;
  /** When the ledger voids the hold by itself; a capture is never tried after it. */
  readonly holdExpiresAt: Date | null;
  readonly cancelRequested: boolean;
  readonly createdAt: Date;
  readonly completedAt: Date | null;
  /** Optimistic lock: a save succeeds only on the version it read. */
  readonly version: number;
}

export interface Deposit {
  readonly id: string;
  readonly operatorId: string;
  readonly accountId: string;
  /** The account's owner, whom the deposit.completed event names. */
  readonly ownerId: string;
  readonly amount: bigint;
  readonly currency: Currency;
  readonly reference: string;
  readonly status: 'pending' | 'completed' | 'failed';
  readonly failureCode: string | null;
  readonly createdAt: Date;
}

/** What an idempotency key protects, per user and kind of request. */
export type IdempotencyScope = 'payment' | 'deposit';

/**
 * An Idempotency-Key's record. While `responseStatus` is null the first request is still being
 * answered (until `lockedUntil`); afterwards the same request gets the same answer.
 */
export interface IdempotencyRecord {
  readonly userId: string;
  readonly scope: IdempotencyScope;
  readonly key: string;
  /** A digest of the request: the same key with another request is refused. */
  readonly fingerprint: string;
  readonly resourceId: string;
  readonly responseStatus: number | null;
  /** The body first answered: the payment or deposit as it was then (JSON-safe). */
  readonly responseBody: unknown;
  readonly lockedUntil: Date;
  readonly createdAt: Date;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** Printable ASCII, as API.md has it. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;
/** Keys are kept at least this long (API.md: 24 h), then purged. */
export const IDEMPOTENCY_RETENTION_MS = 24 * 3600 * 1000;
export const MAX_DESCRIPTION_LENGTH = 500;
export const MAX_DEPOSIT_REFERENCE_LENGTH = 255;
/** The longest a create may wait for the saga (API.md: Prefer: wait=N, N ≤ 30). */
export const MAX_WAIT_SECONDS = 30;

const TRANSFER_NAMESPACE = 'bank.payments.ledger-transfer';

/**
 * The ledger transfers of a payment have ids derived from the payment id and the step, so every
 * step can be sent again at will: the ledger answers a repeat with `exists`. The barrier's void
 * has its own id; the barrier's hold is the payment's hold id itself (see saga.ts).
 */
export function paymentTransferIds(paymentId: string): { hold: string; capture: string; void: string } {
  return {
    hold: deterministicId(TRANSFER_NAMESPACE, `${paymentId}:hold`),
    capture: deterministicId(TRANSFER_NAMESPACE, `${paymentId}:capture`),
    void: deterministicId(TRANSFER_NAMESPACE, `${paymentId}:void`),
  };
}

export function depositTransferId(depositId: string): string {
  return deterministicId(TRANSFER_NAMESPACE, `${depositId}:deposit`);
}


/** A digest of a request's fields: equal requests give equal fingerprints. */
export function fingerprintOf(fields: readonly (string | bigint)[]): string {
  return deterministicId('bank.payments.request', JSON.stringify(fields.map(String)));
}
