import { RemoteCallError, grpcStatusForCode } from '@bank/platform';
import { GRPC_STATUS, PROBLEM_CODES, ProblemError, isProblemCode, problem, problemFromRemoteError, problemType, type ProblemCode } from './problem';

function remote(grpcCode: number, code: string, message = 'peer says no', fields: { field: string; message: string }[] = []) {
  return problemFromRemoteError(new RemoteCallError(grpcCode, code, message, fields));
}

describe('the problem table', () => {
  it.each([
    ['VALIDATION_FAILED', 400],
    ['IDEMPOTENCY_KEY_REQUIRED', 400],
    ['UNAUTHENTICATED', 401],
    ['INVALID_CREDENTIALS', 401],
    ['NOT_FOUND', 404],
    ['EMAIL_TAKEN', 409],
    ['ACCOUNT_NOT_EMPTY', 409],
    ['IDEMPOTENCY_KEY_IN_USE', 409],
    ['PAYMENT_NOT_CANCELLABLE', 409],
    ['PAYLOAD_TOO_LARGE', 413],
    ['UNSUPPORTED_MEDIA_TYPE', 415],
    ['IDEMPOTENCY_KEY_REUSED', 422],
    ['INSUFFICIENT_FUNDS', 422],
    ['RATE_LIMITED', 429],
    ['INTERNAL', 500],
    ['UNAVAILABLE', 503],
  ] as const)('%s is %i', (code, status) => {
    expect(PROBLEM_CODES[code].status).toBe(status);
    expect(problem(code, 'x').status).toBe(status);
  });

  it('builds an RFC 9457 body with a stable type URI and no errors member unless given', () => {
    expect(problem('INSUFFICIENT_FUNDS', 'balance too low')).toEqual({
      type: 'https://bank.example/problems/insufficient-funds',
      title: 'Insufficient funds',
      status: 422,
      detail: 'balance too low',
      code: 'INSUFFICIENT_FUNDS',
    });
    expect(problem('VALIDATION_FAILED', 'bad', [{ field: 'amount', message: 'must be positive' }]).errors).toEqual([{ field: 'amount', message: 'must be positive' }]);
  });

  it('gives every code a distinct type URI, a title and an error status', () => {
    const codes = Object.keys(PROBLEM_CODES) as ProblemCode[];
    expect(new Set(codes.map(problemType)).size).toBe(codes.length);
    for (const code of codes) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(PROBLEM_CODES[code].title.length).toBeGreaterThan(0);
      expect(PROBLEM_CODES[code].status).toBeGreaterThanOrEqual(400);
    }
  });

  it('knows its own codes only', () => {
    expect(isProblemCode('NOT_FOUND')).toBe(true);
    expect(isProblemCode('toString')).toBe(false);
    expect(isProblemCode('SOMETHING_NEW')).toBe(false);
  });

  it('ProblemError carries its code, detail, field errors and headers', () => {
    const err = new ProblemError('IDEMPOTENCY_KEY_IN_USE', 'still running', undefined, { 'Retry-After': '1' });
    expect(err).toBeInstanceOf(Error);
    expect([err.code, err.detail, err.headers]).toEqual(['IDEMPOTENCY_KEY_IN_USE', 'still running', { 'Retry-After': '1' }]);
  });
});

describe('problemFromRemoteError', () => {
  it('INVALID_ARGUMENT is 400 with the field errors, keeping a known 400 code', () => {
    const fields = [{ field: 'currency', message: 'unsupported' }];
    expect(remote(GRPC_STATUS.INVALID_ARGUMENT, 'VALIDATION_FAILED', 'bad input', fields)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', detail: 'bad input', errors: fields });
    expect(remote(GRPC_STATUS.INVALID_ARGUMENT, 'WEAK_PASSWORD')).toMatchObject({ status: 400, code: 'WEAK_PASSWORD' });
    expect(remote(GRPC_STATUS.INVALID_ARGUMENT, 'SOMETHING_PRIVATE')).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(remote(GRPC_STATUS.INVALID_ARGUMENT, 'VALIDATION_FAILED')).not.toHaveProperty('errors');
  });

  it('NOT_FOUND is 404 NOT_FOUND whatever the specific code', () => {
    expect(remote(GRPC_STATUS.NOT_FOUND, 'ACCOUNT_NOT_FOUND', 'no such account')).toMatchObject({ status: 404, code: 'NOT_FOUND', detail: 'no such account' });
  });

  it('PERMISSION_DENIED looks exactly like NOT_FOUND, so existence does not leak', () => {
    const denied = remote(GRPC_STATUS.PERMISSION_DENIED, 'PERMISSION_DENIED', 'account belongs to someone else');
    expect(denied).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(denied.detail).not.toMatch(/someone else/);
  });

  it('ALREADY_EXISTS and ABORTED are 409, keeping a known 409 code', () => {
    expect(remote(GRPC_STATUS.ALREADY_EXISTS, 'EMAIL_TAKEN')).toMatchObject({ status: 409, code: 'EMAIL_TAKEN' });
    expect(remote(GRPC_STATUS.ABORTED, 'IDEMPOTENCY_KEY_IN_USE')).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' });
    expect(remote(GRPC_STATUS.ALREADY_EXISTS, 'ALREADY_EXISTS')).toMatchObject({ status: 409, code: 'CONFLICT' });
  });

  it('UNAUTHENTICATED is 401, keeping a known 401 code', () => {
    expect(remote(GRPC_STATUS.UNAUTHENTICATED, 'INVALID_CREDENTIALS')).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    expect(remote(GRPC_STATUS.UNAUTHENTICATED, 'INVALID_REFRESH_TOKEN')).toMatchObject({ status: 401, code: 'INVALID_REFRESH_TOKEN' });
    expect(remote(GRPC_STATUS.UNAUTHENTICATED, 'UNAUTHENTICATED')).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    // The gateway's own credential refused by a peer is our fault, never the caller's 401.
    const misconfigured = remote(GRPC_STATUS.UNAUTHENTICATED, 'SERVICE_CREDENTIAL_REJECTED');
    expect(misconfigured).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(JSON.stringify(misconfigured)).not.toContain('credential');
  });

  it('FAILED_PRECONDITION follows the table, else 422 OPERATION_REFUSED', () => {
    expect(remote(GRPC_STATUS.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS')).toMatchObject({ status: 422, code: 'INSUFFICIENT_FUNDS' });
    expect(remote(GRPC_STATUS.FAILED_PRECONDITION, 'ACCOUNT_NOT_EMPTY')).toMatchObject({ status: 409, code: 'ACCOUNT_NOT_EMPTY' });
    expect(remote(GRPC_STATUS.FAILED_PRECONDITION, 'PAYMENT_NOT_CANCELLABLE')).toMatchObject({ status: 409, code: 'PAYMENT_NOT_CANCELLABLE' });
    expect(remote(GRPC_STATUS.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED')).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(remote(GRPC_STATUS.FAILED_PRECONDITION, 'BRAND_NEW_RULE', 'not today')).toMatchObject({ status: 422, code: 'OPERATION_REFUSED', detail: 'not today' });
    // A peer cannot turn a business outcome into a server error by naming a 5xx code.
    expect(remote(GRPC_STATUS.FAILED_PRECONDITION, 'INTERNAL')).toMatchObject({ status: 422, code: 'OPERATION_REFUSED' });
  });

  it('RESOURCE_EXHAUSTED is 429 for a rate limit and 503 for a service shedding load', () => {
    expect(remote(GRPC_STATUS.RESOURCE_EXHAUSTED, 'RATE_LIMITED')).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(remote(GRPC_STATUS.RESOURCE_EXHAUSTED, 'LEDGER_OVERLOADED')).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  });

  it('UNAVAILABLE and DEADLINE_EXCEEDED are 503 without the peer message', () => {
    for (const grpcCode of [GRPC_STATUS.UNAVAILABLE, GRPC_STATUS.DEADLINE_EXCEEDED]) {
      const p = remote(grpcCode, 'UNAVAILABLE', 'connect ECONNREFUSED 10.0.0.7:50053');
      expect(p).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
      expect(p.detail).not.toContain('10.0.0.7');
    }
  });

  it('anything else is 500 INTERNAL without the peer message', () => {
    const internal = 13;
    const unknown = 2;
    const unimplemented = 12;
    for (const grpcCode of [internal, unknown, unimplemented]) {
      const p = remote(grpcCode, 'INTERNAL', 'relation "accounts" does not exist');
      expect(p).toMatchObject({ status: 500, code: 'INTERNAL' });
      expect(p.detail).not.toMatch(/relation/);
    }
  });

  it('agrees with the platform table: a domain code crosses gRPC and comes out with its HTTP status', () => {
    const madeByTheGateway = new Set<ProblemCode>(['INTERNAL', 'UNAVAILABLE']);
    for (const code of Object.keys(PROBLEM_CODES) as ProblemCode[]) {
      if (madeByTheGateway.has(code)) continue;
      expect([code, remote(grpcStatusForCode(code), code).status]).toEqual([code, PROBLEM_CODES[code].status]);
    }
  });
});
