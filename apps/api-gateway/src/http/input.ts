import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import { IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_WAIT_SECONDS } from '@bank/payments-core';
import { annotateSpan, type TokenVerifier } from '@bank/platform';
import { authenticate, operatorOf } from './auth-token';
import { expressPath, type Operation } from './operations';
import { ProblemError, type FieldError } from './problem';
import { NoBody } from './schemas';

/** RFC 7240's wait preference: `Prefer: wait=N`, seconds. */
const PREFER_WAIT = /(?:^|[,;\s])wait=(\d{1,6})(?:$|[,;\s])/i;
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

type Out<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

/** What a handler gets: the request as its operation's schemas read it, already checked. */
export interface Input<O extends Operation> {
  readonly params: Out<O['params']>;
  readonly query: Out<O['query']>;
  readonly body: Out<O['body']>;
  readonly idempotencyKey: O['idempotencyKey'] extends 'required' ? string : string | undefined;
  /** `Prefer: wait=N`, capped at MAX_WAIT_SECONDS; 0 when not asked (or not taken by the operation). */
  readonly waitSeconds: number;
}

/** A zod issue as the API words it: one field, one sentence. */
function messageOf(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      return issue.expected === 'object' ? 'must be an object' : `must be ${issue.expected === 'int' || issue.expected === 'number' ? 'an integer' : `a ${issue.expected}`}`;
    case 'too_small':
      if (issue.origin !== 'string') return `must be at least ${String(issue.minimum)}`;
      return issue.minimum === 1 ? 'must not be empty' : `must be at least ${String(issue.minimum)} characters`;
    case 'too_big':
      return issue.origin === 'string' ? `must be at most ${String(issue.maximum)} characters` : `must be at most ${String(issue.maximum)}`;
    case 'invalid_format':
      // A pattern's schema carries its own sentence; a format is named.
      if (issue.format === 'regex') return issue.message;
      return issue.format === 'guid' || issue.format === 'uuid' ? 'must be a UUID' : `must be a valid ${issue.format}`;
    case 'invalid_value':
      return input === undefined ? 'is required' : `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return issue.message;
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** The field errors of one failed parse, deduplicated (zod may report one bound twice). */
export function fieldErrorsOf(issues: readonly z.core.$ZodIssue[], input: unknown): FieldError[] {
  const out = new Map<string, FieldError>();
  for (const issue of issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const field = base === '' ? key : `${base}.${key}`;
        out.set(field, { field, message: 'is not a field of this request' });
      }
      continue;
    }
    if (!out.has(base)) out.set(base, { field: base, message: messageOf(issue, valueAt(input, issue.path)) });
  }
  return [...out.values()];
}

/** An unsupported currency has its own code (API.md); every other bad field, a missing currency too, is VALIDATION_FAILED. */
function problemOf(errors: readonly FieldError[], issues: readonly { issue: z.core.$ZodIssue; input: unknown }[]): ProblemError {
  const currencyOnly = issues.every(({ issue, input }) => issue.code === 'invalid_value' && issue.path.at(-1) === 'currency' && valueAt(input, issue.path) !== undefined);
  if (currencyOnly) return new ProblemError('UNSUPPORTED_CURRENCY', 'the currency is not one the bank supports', errors);
  return new ProblemError('VALIDATION_FAILED', `invalid ${errors.map((e) => e.field || 'body').join(', ')}`, errors);
}

function idempotencyKeyOf(op: Operation, req: Request): string | undefined {
  if (op.idempotencyKey === undefined) return undefined;
  const key = req.header(IDEMPOTENCY_KEY_HEADER);
  if (key === undefined && op.idempotencyKey === 'optional') return undefined;
  if (key === undefined || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    const rule = `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`;
    throw new ProblemError('IDEMPOTENCY_KEY_REQUIRED', `${op.idempotencyKey === 'required' ? 'an' : 'an optional'} Idempotency-Key header must be ${rule}`, [{ field: IDEMPOTENCY_KEY_HEADER, message: `must be ${rule}` }]);
  }
  // The key a client retries with is how it asks after its request: the access line and the trace carry it.
  if (req.res) req.res.locals.idempotencyKey = key;
  annotateSpan({ 'bank.idempotency_key': key });
  return key;
}

function waitSecondsOf(op: Operation, req: Request): number {
  if (!op.prefer) return 0;
  const match = PREFER_WAIT.exec(req.header('Prefer') ?? '');
  return match ? Math.min(Number(match[1]), MAX_WAIT_SECONDS) : 0;
}

/**
 * Reads a request against its operation: the Idempotency-Key first (its own code), then path,
 * query and body together, so that one answer names every bad field. The body is parsed from
 * own keys only: `constructor` or `__proto__` is as unknown a field as any other.
 */
export function readInput<O extends Operation>(op: O, req: Request): Input<O> {
  const idempotencyKey = idempotencyKeyOf(op, req);
  const issues: { issue: z.core.$ZodIssue; input: unknown }[] = [];
  const errors: FieldError[] = [];
  const parse = (schema: z.ZodType | undefined, value: unknown): unknown => {
    if (schema === undefined) return {};
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    issues.push(...result.error.issues.map((issue) => ({ issue, input: value })));
    errors.push(...fieldErrorsOf(result.error.issues, value));
    return undefined;
  };
  const params = parse(op.params, req.params);
  const query = parse(op.query, req.query);
  const body = parse(op.body ?? (op.method === 'get' ? undefined : NoBody), req.body ?? {});
  if (errors.length > 0) throw problemOf(errors, issues);
  return { params, query, body, idempotencyKey, waitSeconds: waitSecondsOf(op, req) } as Input<O>;
}

export type Handler<O extends Operation> = (input: Input<O>, res: Response, req: Request) => Promise<void>;

/**
 * Registers one operation on the router at its documented method and path, behind the access
 * it names: a token for customers; for operators also the role, checked before the input so that
 * to anyone else the route answers exactly as one that does not exist.
 */
export function serve<O extends Operation>(router: Router, op: O, verifier: TokenVerifier | undefined, handler: Handler<O>): void {
  const guards: RequestHandler[] = [];
  if (op.access !== 'public') {
    if (verifier === undefined) throw new Error(`${op.operationId} needs a token verifier`);
    guards.push(authenticate(verifier));
  }
  if (op.access === 'operator') {
    guards.push((req, res, next) => {
      operatorOf(req, res);
      next();
    });
  }
  router[op.method](expressPath(op.path), ...guards, async (req, res) => {
    await handler(readInput(op, req), res, req);
  });
}
