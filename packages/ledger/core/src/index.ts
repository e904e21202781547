export {
  AccountFlags,
  MAX_DESCRIPTION_LENGTH,
  MAX_TIMEOUT_SECONDS,
  MAX_PENDING_TIMEOUT_SECONDS,
  MAX_REFERENCE_LENGTH,
  MAX_TRANSFERS_PER_REQUEST,
  TRANSFER_RESULTS,
  TransferFlags,
  accountBalance,
  isSuccess,
  postedBalance,
  validAccountFlags,
  validTransferFlags,
} from './model';
export type {
  AccountBalance,
  AccountKind,
  AccountState,
  CreateAccountResult,
  Entry,
  EntryKind,
  LedgerAccount,
  NewAccount,
  Resolution,
  ResolutionKind,
  Transfer,
  TransferRequest,
  TransferResult,
} from './model';
export { applyTransfers, batchFootprint, expireHolds } from './apply';
export type { ApplyOptions, BatchChanges, BatchState, LedgerEvent, LedgerEventType } from './apply';
export { LEDGER_NOT_ACTIVE, LEDGER_OVERLOADED, TransferBatcher } from './batcher';
export type { BatchReport, BatcherOptions } from './batcher';
export {
  CREATE_ACCOUNTS_MAX,
  EXPIRY_BATCH_SIZE,
  LOOKUP_MAX_IDS,
  Ledger,
  STATEMENT_DEFAULT_PAGE,
  STATEMENT_MAX_PAGE,
  SYSTEM_KINDS,
  systemAccountId,
} from './ledger';
export type { TransferStatus, TransferView } from './ledger';
export { BatchRefused } from './ports';
export type { Balances, Footprint, InvariantReport, InvariantViolation, LedgerStore, LineStatus, StatementLine } from './ports';
