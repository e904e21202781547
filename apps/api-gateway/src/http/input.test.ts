import type { Request } from 'express';
import { readInput } from './input';
import { OPERATIONS } from './operations';
import { ProblemError } from './problem';

const request = (parts: { body?: unknown; query?: Record<string, unknown>; params?: Record<string, string>; headers?: Record<string, string>; method?: string }): Request =>
  ({
    method: parts.method ?? 'POST',
    body: parts.body,
    query: parts.query ?? {},
    params: parts.params ?? {},
    header: (name: string) => Object.entries(parts.headers ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
  }) as unknown as Request;

function problemOf(run: () => unknown): { code: string; errors: readonly { field: string; message: string }[] } {
  try {
    run();
  } catch (e) {
    if (e instanceof ProblemError) return { code: e.code, errors: e.errors ?? [] };
    throw e;
  }
  throw new Error('no problem');
}

describe('reading a request against its operation', () => {
  it('names a missing currency as required, and only an unsupported one as UNSUPPORTED_CURRENCY', () => {
    expect(problemOf(() => readInput(OPERATIONS.openAccount, request({ body: {} })))).toEqual({ code: 'VALIDATION_FAILED', errors: [{ field: 'currency', message: 'is required' }] });
    expect(problemOf(() => readInput(OPERATIONS.openAccount, request({ body: { currency: 'XXX' } }))).code).toBe('UNSUPPORTED_CURRENCY');
    expect(problemOf(() => readInput(OPERATIONS.openAccount, request({ body: { currency: 'XXX', extra: 1 } }))).code).toBe('VALIDATION_FAILED');
  });

  it('takes a page size of digits only', () => {
    for (const limit of ['0x10', '1e2', ' 5', '+5', '5.0', '0', '101', '']) {
      const { code, errors } = problemOf(() => readInput(OPERATIONS.listAccounts, request({ method: 'GET', query: { limit } })));
      expect([limit, code, errors.map((e) => e.field)]).toEqual([limit, 'VALIDATION_FAILED', ['limit']]);
    }
    expect(readInput(OPERATIONS.listAccounts, request({ method: 'GET', query: { limit: '100' } })).query.limit).toBe(100);
    expect(readInput(OPERATIONS.listAccounts, request({ method: 'GET' })).query.limit).toBe(20);
  });

  it('measures names after trimming, as the services do', () => {
    const body = { email: ' ada@example.com ', password: 'p', fullName: `${'a'.repeat(100)} ` };
    expect(readInput(OPERATIONS.signUp, request({ body })).body).toEqual({ email: 'ada@example.com', password: 'p', fullName: 'a'.repeat(100) });
  });

  it('checks the Idempotency-Key before the body, on every POST that takes one', () => {
    expect(problemOf(() => readInput(OPERATIONS.createPayment, request({ body: {} }))).code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect(problemOf(() => readInput(OPERATIONS.logIn, request({ body: { email: 'a', password: 'b' }, headers: { 'Idempotency-Key': 'x'.repeat(256) } }))).code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    expect(readInput(OPERATIONS.logIn, request({ body: { email: 'a', password: 'b' } })).idempotencyKey).toBeUndefined();
  });

  it('refuses own prototype keys and any field on a POST that takes no body', () => {
    const parsed = JSON.parse('{"currency":"USD","__proto__":{"admin":true}}') as unknown;
    expect(problemOf(() => readInput(OPERATIONS.openAccount, request({ body: parsed }))).errors).toEqual([{ field: '__proto__', message: 'is not a field of this request' }]);
    expect(problemOf(() => readInput(OPERATIONS.closeAccount, request({ params: { id: '0192f5e4-7b1c-7cc3-9a43-5c1f0e6a7b10' }, body: { force: true } }))).errors).toEqual([{ field: 'force', message: 'is not a field of this request' }]);
  });
});
