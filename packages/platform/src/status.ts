import { status } from '@grpc/grpc-js';

/**
 * The one table from a domain code to a gRPC status. Codes not listed are business outcomes that a
 * caller must handle: FAILED_PRECONDITION. The gateway keeps its own table to HTTP.
 */
const GRPC_STATUS_BY_CODE: Record<string, status> = {
  VALIDATION_FAILED: status.INVALID_ARGUMENT,
  INVALID_AMOUNT: status.INVALID_ARGUMENT,
  UNSUPPORTED_CURRENCY: status.INVALID_ARGUMENT,
  AMOUNT_OVERFLOW: status.INVALID_ARGUMENT,
  WEAK_PASSWORD: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ACCOUNT_NOT_FOUND: status.NOT_FOUND,
  PAYMENT_NOT_FOUND: status.NOT_FOUND,
  TRANSFER_NOT_FOUND: status.NOT_FOUND,
  EMAIL_TAKEN: status.ALREADY_EXISTS,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  INVALID_CREDENTIALS: status.UNAUTHENTICATED,
  INVALID_REFRESH_TOKEN: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  IDEMPOTENCY_KEY_IN_USE: status.ABORTED,
  IDEMPOTENCY_KEY_REUSED: status.FAILED_PRECONDITION,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  LEDGER_OVERLOADED: status.RESOURCE_EXHAUSTED,
  LEDGER_NOT_ACTIVE: status.UNAVAILABLE,
  TOO_MANY_ITEMS: status.INVALID_ARGUMENT,
};

export function grpcStatusForCode(code: string): status {
  return GRPC_STATUS_BY_CODE[code] ?? status.FAILED_PRECONDITION;
}

/** Structured error details travel as metadata so that clients keep the stable code. */
export const ERROR_CODE_METADATA_KEY = 'x-error-code';
export const ERROR_FIELDS_METADATA_KEY = 'x-error-fields-bin';
/** Seconds until a refused call may succeed (a rate limit's window), when the service knows. */
export const ERROR_RETRY_AFTER_METADATA_KEY = 'x-retry-after-s';
/** A peer's Retry-After is believed up to this; a larger one is a bug, not advice. */
export const MAX_RETRY_AFTER_S = 24 * 60 * 60;
