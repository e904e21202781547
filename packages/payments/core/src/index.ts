export {
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_RETENTION_MS,
  MAX_DEPOSIT_REFERENCE_LENGTH,
  MAX_DESCRIPTION_LENGTH,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_WAIT_SECONDS,
  TERMINAL_STEPS,
  depositTransferId,
  fingerprintOf,
  paymentTransferIds,
} from './model';
export type { Deposit, IdempotencyRecord, IdempotencyScope, Payment, PaymentStatus, SagaStep } from './model';
export {
  MAX_COMPENSATION_ATTEMPTS,
  MAX_STEP_ATTEMPTS,
  STEP_DEADLINE_MS,
  STEP_RETRY_BASE_MS,
  STEP_RETRY_MAX_MS,
  failureCodeOf,
  isTerminal,
  nextAction,
  onBarrier,
  onCapture,
  onCheck,
  onHold,
  onStepFailed,
  onVoid,
  requestCancel,
  resumeSaga,
  settlementEvent,
  spendChange,
  spendDay,
} from './saga';
export type { LedgerResult, SagaAction } from './saga';
export { DEPOSIT_ACCOUNT_RETRY_MS, DEPOSIT_ACCOUNT_WAIT_MS, IDEMPOTENCY_LOCK_MS, MAX_API_AMOUNT, MAX_DRIVE_ROUNDS, PURGE_BATCH_SIZE, Payments, SWEEP_BATCH_SIZE, accountProjection, viewOf } from './payments';
export type { CreatedPayment, DepositInput, DepositView, PaymentInput, PaymentView, PaymentsOptions } from './payments';
export { MAX_WAITERS, Waiters } from './waiters';
export type { AccountDirectory, AccountInfo, Created, PaymentLedger, PaymentPage, PaymentStore, SaveOutcome } from './ports';
