import type { Response } from 'express';
import { SERVICE_CREDENTIAL_REJECTED, type RemoteCallError } from '@bank/platform';

/**
 * Errors leave the gateway as RFC 9457 problem documents. `code` is the stable, machine-readable
 * part that clients branch on; `title` and `detail` are for humans and may change.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE_URL = 'https://bank.example/problems/';

/**
 * The one table of public error codes and their HTTP status. A code that a peer sends but that is
 * not listed here never reaches a client as such: it is replaced by the generic code of its class,
 * so the public contract only grows on purpose.
 */
export const PROBLEM_CODES = {
  VALIDATION_FAILED: { status: 400, title: 'The request is invalid' },
  WEAK_PASSWORD: { status: 400, title: 'The password is too weak' },
  INVALID_AMOUNT: { status: 400, title: 'The amount is invalid' },
  UNSUPPORTED_CURRENCY: { status: 400, title: 'The currency is not supported' },
  AMOUNT_OVERFLOW: { status: 400, title: 'The amount is out of range' },
  TOO_MANY_ITEMS: { status: 400, title: 'Too many items in one request' },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, title: 'A valid Idempotency-Key header is required' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  INVALID_CREDENTIALS: { status: 401, title: 'The email or password is wrong' },
  INVALID_REFRESH_TOKEN: { status: 401, title: 'The refresh token is not valid' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  EMAIL_TAKEN: { status: 409, title: 'The email is already registered' },
  ACCOUNT_NOT_EMPTY: { status: 409, title: 'The account still holds money' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'A request with this Idempotency-Key is still running' },
  PAYMENT_NOT_CANCELLABLE: { status: 409, title: 'The payment can no longer be cancelled' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be JSON' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'The Idempotency-Key was used with a different request' },
  INSUFFICIENT_FUNDS: { status: 422, title: 'Insufficient funds' },
  ACCOUNT_FROZEN: { status: 422, title: 'The account is frozen' },
  ACCOUNT_CLOSED: { status: 422, title: 'The account is closed' },
  LIMIT_EXCEEDED: { status: 422, title: 'A limit was exceeded' },
  CURRENCY_MISMATCH: { status: 422, title: 'The currencies do not match' },
  OPERATION_REFUSED: { status: 422, title: 'The operation was refused' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal error' },
  UNAVAILABLE: { status: 503, title: 'Service temporarily unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly errors?: readonly FieldError[];
}

/**
 * Thrown by route handlers to answer with a problem; the error handler turns it into the
 * response. `headers` carries what some problems need (Retry-After, WWW-Authenticate).
 */
export class ProblemError extends Error {
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly errors?: readonly FieldError[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

export function isProblemCode(code: string): code is ProblemCode {
  return Object.prototype.hasOwnProperty.call(PROBLEM_CODES, code);
}

export function problemType(code: string): string {
  return `${PROBLEM_TYPE_BASE_URL}${code.toLowerCase().replace(/_/g, '-')}`;
}

export function problem(code: ProblemCode, detail: string, errors?: readonly FieldError[]): Problem {
  const { status, title } = PROBLEM_CODES[code];
  return { type: problemType(code), title, status, detail, code, ...(errors !== undefined ? { errors } : {}) };
}

/** RFC 9110 requires a challenge on every 401; API.md promises it for every token failure. */
export const BEARER_CHALLENGE = 'Bearer realm="bank"';

export function sendProblem(res: Response, body: Problem, headers: Readonly<Record<string, string>> = {}): void {
  if (body.status === 401) res.setHeader('WWW-Authenticate', BEARER_CHALLENGE);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.status(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** The peer's code when the table knows it with the expected status, else the generic one. */
function knownOr(code: string, status: number, fallback: ProblemCode): ProblemCode {
  return isProblemCode(code) && PROBLEM_CODES[code].status === status ? code : fallback;
}

/**
 * gRPC status codes as the gRPC protocol numbers them (doc/statuscodes.md); they are part of the
 * wire format and never change, so the gateway needs no direct dependency on grpc-js for them.
 */
export const GRPC_STATUS = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const GENERIC_DETAIL = {
  INTERNAL: 'The request could not be completed.',
  UNAVAILABLE: 'A service the request needs did not answer in time; retry later.',
  NOT_FOUND: 'The resource does not exist.',
};

/**
 * Maps a failed internal call to the problem the client sees. Messages of 4xx outcomes come from
 * a DomainError and are written for the caller; messages of anything else can describe internals
 * and are replaced.
 */
export function problemFromRemoteError(err: RemoteCallError): Problem {
  switch (err.grpcCode) {
    case GRPC_STATUS.INVALID_ARGUMENT:
      return problem(knownOr(err.code, 400, 'VALIDATION_FAILED'), err.message, err.fields.length > 0 ? err.fields : undefined);
    case GRPC_STATUS.NOT_FOUND:
      return problem('NOT_FOUND', err.message || GENERIC_DETAIL.NOT_FOUND);
    case GRPC_STATUS.PERMISSION_DENIED:
      // API.md: what a caller may not see answers exactly like what does not exist, so that
      // existence never leaks; the peer's message (which may say why) is dropped too.
      return problem('NOT_FOUND', GENERIC_DETAIL.NOT_FOUND);
    case GRPC_STATUS.ALREADY_EXISTS:
    case GRPC_STATUS.ABORTED:
      return problem(knownOr(err.code, 409, 'CONFLICT'), err.message);
    case GRPC_STATUS.UNAUTHENTICATED:
      // A peer refusing the gateway's own service credential is a deployment fault, not the
      // caller's: it must not reach the client as a 401 (nor say which credential failed).
      if (err.code === SERVICE_CREDENTIAL_REJECTED) return problem('INTERNAL', GENERIC_DETAIL.INTERNAL);
      return problem(knownOr(err.code, 401, 'UNAUTHENTICATED'), err.message);
    case GRPC_STATUS.FAILED_PRECONDITION:
      return problemForBusinessOutcome(err);
    case GRPC_STATUS.RESOURCE_EXHAUSTED:
      // Only a peer's rate limit is the client's 429; a service shedding load (a full queue, such
      // as the ledger's LEDGER_OVERLOADED) is unavailable for now.
      if (err.code !== 'RATE_LIMITED') return problem('UNAVAILABLE', GENERIC_DETAIL.UNAVAILABLE);
      return problem('RATE_LIMITED', err.message);
    case GRPC_STATUS.UNAVAILABLE:
    case GRPC_STATUS.DEADLINE_EXCEEDED:
      return problem('UNAVAILABLE', GENERIC_DETAIL.UNAVAILABLE);
    default:
      return problem('INTERNAL', GENERIC_DETAIL.INTERNAL);
  }
}

/**
 * FAILED_PRECONDITION carries the business outcomes (platform status.ts). A listed code keeps its
 * status (409 for a state conflict, 422 for a refused operation); an unlisted one becomes the
 * generic OPERATION_REFUSED with the peer's message, until the table lists it.
 */
function problemForBusinessOutcome(err: RemoteCallError): Problem {
  if (isProblemCode(err.code) && PROBLEM_CODES[err.code].status < 500) return problem(err.code, err.message);
  return problem('OPERATION_REFUSED', err.message);
}
