import { fail, ok, type Result } from '@bank/kernel';
import { TERMINAL_STEPS, type Payment, type PaymentStatus, type SagaStep } from './model';

// The payment saga as pure decisions: what to do next, and what a step's outcome makes of the
// payment. The use cases (payments.ts) perform the steps and persist what these return.

/** A step waits this long for its outcome before the sweeper takes the saga up again. */
export const STEP_DEADLINE_MS = 10_000;
/**
 * Failed attempts at a forward step (hold, check, capture) before the payment is compensated:
 * at the back-off's ceiling, about 18 minutes, so a ledger away for minutes fails nothing (a
 * hold's own timeout may end it first, and the saga then agrees with the ledger).
 */
export const MAX_STEP_ATTEMPTS = 40;
/** Failed attempts at compensation before the saga is parked for an operator: about half an hour. */
export const MAX_COMPENSATION_ATTEMPTS = 60;
/** Back-off between attempts: doubles from the base up to the ceiling. */
export const STEP_RETRY_BASE_MS = 500;
export const STEP_RETRY_MAX_MS = 30_000;

export type SagaAction = 'hold' | 'check' | 'capture' | 'void' | 'barrier' | 'none';

/** The ledger's answer to a step, by the ledger's result name (`ok`, `exists`, `exceeds_credits`, ...). */
export type LedgerResult = string;

/** The ledger's refusals as the failure codes API.md names; anything else is LEDGER_REFUSED. */
const FAILURE_CODE_OF_RESULT: Readonly<Record<string, string>> = {
  exceeds_credits: 'INSUFFICIENT_FUNDS',
  debit_account_frozen: 'ACCOUNT_FROZEN',
  credit_account_frozen: 'ACCOUNT_FROZEN',
  debit_account_closed: 'ACCOUNT_CLOSED',
  credit_account_closed: 'ACCOUNT_CLOSED',
  debit_account_not_found: 'ACCOUNT_NOT_FOUND',
  credit_account_not_found: 'ACCOUNT_NOT_FOUND',
  currency_mismatch: 'CURRENCY_MISMATCH',
  pending_transfer_expired: 'HOLD_EXPIRED',
};

export function failureCodeOf(result: LedgerResult): string {
  return FAILURE_CODE_OF_RESULT[result] ?? 'LEDGER_REFUSED';
}

const isDone = (r: LedgerResult) => r === 'ok' || r === 'exists';
/** A transfer with the hold's id exists with other fields: the barrier (or the real hold) got there first. */
const isOtherTransfer = (r: LedgerResult) => r.startsWith('exists_with_different_');

export function isTerminal(p: Payment): boolean {
  return TERMINAL_STEPS.has(p.step);
}

/** What the saga must do next; `none` once it has ended. */
export function nextAction(p: Payment): SagaAction {
  switch (p.step) {
    case 'accepted':
      return 'hold';
    case 'hold_placed':
      return 'check';
    case 'checked':
      return 'capture';
    case 'compensating':
      // Without a confirmed hold, a hold may still be on its way: the barrier takes its place.
      return p.stepTimes.hold_placed !== undefined ? 'void' : 'barrier';
    default:
      return 'none';
  }
}

function moveTo(p: Payment, step: SagaStep, now: Date, patch: Partial<Payment> = {}): Payment {
  const next = { ...p, ...patch };
  return { ...next, step, stepTimes: { ...next.stepTimes, [step]: now.toISOString() }, attempts: 0, deadlineAt: new Date(now.getTime() + STEP_DEADLINE_MS) };
}

/** The end of a compensation: cancelled when a cancel (and no failure) caused it, else failed. */
function compensated(p: Payment, now: Date, failureCode?: string): Payment {
  const code = failureCode ?? p.failureCode;
  const status: PaymentStatus = p.cancelRequested && code === null ? 'cancelled' : 'failed';
  return moveTo(p, 'compensated', now, { status, failureCode: status === 'failed' ? (code ?? 'LEDGER_REFUSED') : null, completedAt: now });
}

function compensate(p: Payment, now: Date, failureCode: string): Payment {
  return moveTo(p, 'compensating', now, { failureCode: p.failureCode ?? failureCode });
}

export function onHold(p: Payment, result: LedgerResult, now: Date, holdTimeoutSeconds: number): Payment {
  if (isDone(result)) return moveTo(p, 'hold_placed', now, { holdExpiresAt: new Date(now.getTime() + holdTimeoutSeconds * 1000) });
  // A compensation's barrier took the hold's id: the payment is being compensated elsewhere.
  if (isOtherTransfer(result)) return moveTo(p, 'compensating', now);
  // The accounts were found when the payment was accepted: a ledger that does not have one yet
  // has not received its account.opened event. Tried again after a back-off, not failed.
  if (result.endsWith('_account_not_found')) return onStepFailed(p, now);
  // Refused: nothing is held now, but the ledger keeps no record of a refusal, so a repeat of this
  // hold (another replica's drive, a sweep) could still succeed later. The compensation's barrier
  // takes the hold's id first; the payment then fails with the refusal's code.
  return compensate(p, now, failureCodeOf(result));
}

/** The checks that need more than the ledger: `ok`, or the code the payment fails with. */
export function onCheck(p: Payment, outcome: 'ok' | { failureCode: string }, now: Date): Payment {
  return outcome === 'ok' ? moveTo(p, 'checked', now) : compensate(p, now, outcome.failureCode);
}

export function onCapture(p: Payment, result: LedgerResult, now: Date): Payment {
  if (isDone(result)) return moveTo(p, 'captured', now, { status: 'completed', completedAt: now });
  // The hold is gone (expired, or voided by a compensation that overtook this capture).
  if (result === 'pending_transfer_expired') return compensated(p, now, 'HOLD_EXPIRED');
  if (result === 'pending_transfer_already_voided') return compensated(p, now);
  return compensate(p, now, failureCodeOf(result));
}

export function onVoid(p: Payment, result: LedgerResult, now: Date): Payment | 'retry' {
  if (isDone(result) || result === 'pending_transfer_already_voided') return compensated(p, now);
  if (result === 'pending_transfer_expired') return compensated(p, now, p.failureCode ?? 'HOLD_EXPIRED');
  // The capture got there first: the ledger moved the money, and the saga agrees with the ledger.
  if (result === 'pending_transfer_already_posted') return moveTo(p, 'captured', now, { status: 'completed', failureCode: null, completedAt: now });
  return 'retry';
}

/**
 * The barrier: a compensation that does not know whether its hold was placed takes the hold's
 * id itself, with a hold and its void linked (net nothing, on the system accounts). A hold that
 * arrives later finds the id taken and does nothing; one that was there first makes the barrier
 * fail, and the hold is voided instead. Repeats of either answer `exists`.
 */
export function onBarrier(p: Payment, results: readonly [LedgerResult, LedgerResult], now: Date): Payment | 'retry' {
  const [hold, release] = results;
  if (isDone(hold) && isDone(release)) return compensated(p, now);
  if (isOtherTransfer(hold)) return moveTo(p, 'compensating', now, { stepTimes: { ...p.stepTimes, hold_placed: now.toISOString() } });
  return 'retry';
}

/** A step that could not be performed (ledger unreachable, a timeout): back off, then give up. */
export function onStepFailed(p: Payment, now: Date): Payment {
  const attempts = p.attempts + 1;
  if (p.step === 'compensating' && attempts >= MAX_COMPENSATION_ATTEMPTS) return moveTo(p, 'needs_attention', now);
  if (p.step !== 'compensating' && attempts >= MAX_STEP_ATTEMPTS) return compensate(p, now, 'LEDGER_UNAVAILABLE');
  const delayMs = Math.min(STEP_RETRY_BASE_MS * 2 ** (attempts - 1), STEP_RETRY_MAX_MS);
  return { ...p, attempts, deadlineAt: new Date(now.getTime() + delayMs) };
}

export type CancelRefusal = 'PAYMENT_NOT_CANCELLABLE';

/** A cancel is possible until the capture: it turns the saga to compensation. */
export function requestCancel(p: Payment, now: Date): Result<Payment, CancelRefusal> {
  if (p.status === 'cancelled' || (p.cancelRequested && !isTerminal(p))) return ok(p);
  if (p.status !== 'pending' || p.step === 'captured' || p.step === 'needs_attention') return fail('PAYMENT_NOT_CANCELLABLE', `payment ${p.id} is ${p.status} and can no longer be cancelled`);
  if (p.step === 'compensating') return ok({ ...p, cancelRequested: true });
  return ok(moveTo({ ...p, cancelRequested: true }, 'compensating', now));
}

export type ResumeRefusal = 'PAYMENT_NOT_RESUMABLE';

/**
 * An operator takes a saga up again: one parked for attention starts a new round of compensation
 * (its retry budget afresh), one still moving is due at once. A payment that has ended stays so.
 */
export function resumeSaga(p: Payment, now: Date): Result<Payment, ResumeRefusal> {
  if (p.step === 'needs_attention') return ok(moveTo(p, 'compensating', now));
  if (isTerminal(p)) return fail('PAYMENT_NOT_RESUMABLE', `payment ${p.id} is ${p.status}: its saga has ended`);
  return ok({ ...p, deadlineAt: now });
}

/** The integration event a transition emits: one when a payment reaches its terminal status. */
export function settlementEvent(before: Payment, after: Payment): 'payment.completed' | 'payment.failed' | 'payment.cancelled' | undefined {
  if (before.status === after.status || after.status === 'pending') return undefined;
  return `payment.${after.status}`;
}

/**
 * What a transition does to the owner's daily outgoing total: the check reserves the amount,
 * a compensation after the check gives it back.
 */
export function spendChange(before: Payment, after: Payment): bigint {
  if (after.step === 'checked' && before.step !== 'checked') return after.amount;
  if (after.step === 'compensated' && before.step !== 'compensated' && after.stepTimes.checked !== undefined) return -after.amount;
  return 0n;
}

/** The day (UTC) a payment counts against: the day it was made. */
export function spendDay(p: Payment): string {
  return p.createdAt.toISOString().slice(0, 10);
}
