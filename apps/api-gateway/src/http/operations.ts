import type { z } from 'zod';
import {
  AccountList,
  AccountSchema,
  CreatePaymentRequest,
  DepositRequest,
  DepositSchema,
  EntryList,
  FreezeRequest,
  HealthSchema,
  OpenApiDocumentSchema,
  IdParams,
  JwksSchema,
  LoginRequest,
  OpenAccountRequest,
  PageQuery,
  PaymentList,
  PaymentListQuery,
  PaymentSchema,
  TimelineSchema,
  ProfileSchema,
  ReadinessSchema,
  RefreshRequest,
  SignupRequest,
  SignupResponse,
  TokenPairSchema,
  UpdateProfileRequest,
} from './schemas';

/**
 * Every public operation of the gateway: its method and path, who may call it, what it takes and
 * what it answers. app.ts registers exactly these routes (input.ts's `serve`), input.ts validates
 * requests against them and openapi.ts generates the document from them, so the three cannot
 * disagree; a test walks Express's router to prove it.
 */

/** Who may call: anyone; a customer's access token; an operator's (others get 404, never 403). */
export type Access = 'public' | 'customer' | 'operator';
export type Tag = 'auth' | 'me' | 'accounts' | 'payments' | 'admin' | 'operability';
/** Response headers the document describes once and operations name. */
export type HeaderName = 'Idempotent-Replayed' | 'Location' | 'Preference-Applied' | 'Retry-After' | 'Cache-Control' | 'Age';
/** Failures particular to an operation; the ones every operation can give are added by openapi.ts. */
export type ErrorStatus = 401 | 404 | 409 | 422 | 503;

export interface Answer {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** Defaults to application/json when there is a schema. */
  readonly contentType?: string;
  readonly headers?: readonly HeaderName[];
}

export interface Operation {
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'patch';
  /** OpenAPI form (`/v1/accounts/{id}`); Express's `:id` form is derived from it. */
  readonly path: string;
  readonly tag: Tag;
  readonly summary: string;
  readonly description?: string;
  readonly access: Access;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** The JSON body; a POST without one refuses any field (an empty body or `{}` only). */
  readonly body?: z.ZodObject;
  /** The body may be left out (PATCH with nothing to change). */
  readonly bodyOptional?: boolean;
  readonly idempotencyKey?: 'required' | 'optional';
  /** Takes RFC 7240 `Prefer: wait=N`. */
  readonly prefer?: boolean;
  readonly answers: Readonly<Partial<Record<200 | 201 | 202 | 204 | 503, Answer>>>;
  readonly errors?: readonly (ErrorStatus | { readonly status: ErrorStatus | 429; readonly description: string; readonly headers?: readonly HeaderName[] })[];
}

const op = <const O extends Operation>(o: O): O => o;
const STAFF_ONLY = 'Callers without the operator or admin role get 404, as for a route that does not exist.';

export const OPERATIONS = {
  signUp: op({
    operationId: 'signUp',
    method: 'post',
    path: '/v1/auth/signup',
    tag: 'auth',
    summary: 'Create a customer',
    description: 'Stricter rate limit than the rest of the API.',
    access: 'public',
    idempotencyKey: 'optional',
    body: SignupRequest,
    answers: { 201: { description: 'Created', schema: SignupResponse } },
    errors: [{ status: 409, description: 'EMAIL_TAKEN' }],
  }),
  logIn: op({
    operationId: 'logIn',
    method: 'post',
    path: '/v1/auth/login',
    tag: 'auth',
    summary: 'Exchange email and password for tokens',
    description: 'A wrong email and a wrong password give the same 401 INVALID_CREDENTIALS. Stricter rate limit than the rest of the API.',
    access: 'public',
    idempotencyKey: 'optional',
    body: LoginRequest,
    answers: { 200: { description: 'Tokens', schema: TokenPairSchema } },
    errors: [401],
  }),
  refreshTokens: op({
    operationId: 'refreshTokens',
    method: 'post',
    path: '/v1/auth/refresh',
    tag: 'auth',
    summary: 'Rotate the refresh token',
    description: 'Returns a new pair; the old refresh token stops working. Presenting an already used one revokes its whole family (401).',
    access: 'public',
    idempotencyKey: 'optional',
    body: RefreshRequest,
    answers: { 200: { description: 'New tokens', schema: TokenPairSchema } },
    errors: [401],
  }),
  logOut: op({
    operationId: 'logOut',
    method: 'post',
    path: '/v1/auth/logout',
    tag: 'auth',
    summary: 'Revoke a refresh token',
    access: 'public',
    idempotencyKey: 'optional',
    body: RefreshRequest,
    answers: { 204: { description: 'Logged out' } },
  }),
  getMe: op({
    operationId: 'getMe',
    method: 'get',
    path: '/v1/me',
    tag: 'me',
    summary: 'Your profile',
    access: 'customer',
    answers: { 200: { description: 'Profile', schema: ProfileSchema } },
    errors: [{ status: 404, description: 'NOT_FOUND: the profile has not been made yet (a moment after signup).' }],
  }),
  updateMe: op({
    operationId: 'updateMe',
    method: 'patch',
    path: '/v1/me',
    tag: 'me',
    summary: 'Change your profile',
    access: 'customer',
    body: UpdateProfileRequest,
    bodyOptional: true,
    answers: { 200: { description: 'Profile', schema: ProfileSchema } },
    errors: [{ status: 404, description: 'NOT_FOUND: the profile has not been made yet (a moment after signup).' }],
  }),
  openAccount: op({
    operationId: 'openAccount',
    method: 'post',
    path: '/v1/accounts',
    tag: 'accounts',
    summary: 'Open an account',
    description: 'With an Idempotency-Key, a repeat opens nothing and answers the first account; the same key for another currency is 422 IDEMPOTENCY_KEY_REUSED.',
    access: 'customer',
    idempotencyKey: 'optional',
    body: OpenAccountRequest,
    answers: { 201: { description: 'Opened (or, for a repeated key, the account it opened)', schema: AccountSchema, headers: ['Idempotent-Replayed'] } },
    errors: [422],
  }),
  listAccounts: op({
    operationId: 'listAccounts',
    method: 'get',
    path: '/v1/accounts',
    tag: 'accounts',
    summary: 'Your accounts',
    access: 'customer',
    query: PageQuery,
    answers: { 200: { description: 'A page of accounts', schema: AccountList } },
  }),
  getAccount: op({
    operationId: 'getAccount',
    method: 'get',
    path: '/v1/accounts/{id}',
    tag: 'accounts',
    summary: 'One of your accounts',
    access: 'customer',
    params: IdParams,
    answers: { 200: { description: 'Account', schema: AccountSchema } },
    errors: [404],
  }),
  listAccountEntries: op({
    operationId: 'listAccountEntries',
    method: 'get',
    path: '/v1/accounts/{id}/transactions',
    tag: 'accounts',
    summary: 'Statement of an account, newest first',
    access: 'customer',
    params: IdParams,
    query: PageQuery,
    answers: { 200: { description: 'A page of entries', schema: EntryList } },
    errors: [404],
  }),
  closeAccount: op({
    operationId: 'closeAccount',
    method: 'post',
    path: '/v1/accounts/{id}/close',
    tag: 'accounts',
    summary: 'Close an account',
    access: 'customer',
    params: IdParams,
    idempotencyKey: 'optional',
    answers: { 200: { description: 'Closed', schema: AccountSchema } },
    errors: [404, { status: 409, description: 'ACCOUNT_NOT_EMPTY while its balance or holds are not zero.' }, { status: 422, description: 'ACCOUNT_CLOSED (already closed) or ACCOUNT_FROZEN.' }],
  }),
  createPayment: op({
    operationId: 'createPayment',
    method: 'post',
    path: '/v1/payments',
    tag: 'payments',
    summary: 'Pay from one of your accounts to another account',
    description:
      'Checked at once (400/404/422): amount, currency, source equal to destination, source not yours, destination unknown, currency mismatch. ' +
      'Found later (the payment ends `failed` with `failureCode`): INSUFFICIENT_FUNDS, ACCOUNT_FROZEN, ACCOUNT_CLOSED, LIMIT_EXCEEDED.',
    access: 'customer',
    idempotencyKey: 'required',
    prefer: true,
    body: CreatePaymentRequest,
    answers: {
      201: { description: 'Finished within the `Prefer: wait` time: the terminal payment', schema: PaymentSchema, headers: ['Location', 'Idempotent-Replayed', 'Preference-Applied'] },
      202: { description: 'Accepted: the payment is pending', schema: PaymentSchema, headers: ['Location', 'Idempotent-Replayed', 'Preference-Applied'] },
    },
    errors: [404, { status: 409, description: 'IDEMPOTENCY_KEY_IN_USE: the first request with this key is still running.', headers: ['Retry-After'] }, 422],
  }),
  listPayments: op({
    operationId: 'listPayments',
    method: 'get',
    path: '/v1/payments',
    tag: 'payments',
    summary: 'Payments from or to one of your accounts',
    access: 'customer',
    query: PaymentListQuery,
    answers: { 200: { description: 'A page of payments', schema: PaymentList } },
    errors: [404],
  }),
  getPayment: op({
    operationId: 'getPayment',
    method: 'get',
    path: '/v1/payments/{id}',
    tag: 'payments',
    summary: 'A payment (visible to the owners of either account)',
    access: 'customer',
    params: IdParams,
    answers: { 200: { description: 'Payment', schema: PaymentSchema } },
    errors: [404],
  }),
  cancelPayment: op({
    operationId: 'cancelPayment',
    method: 'post',
    path: '/v1/payments/{id}/cancel',
    tag: 'payments',
    summary: 'Cancel a pending payment',
    access: 'customer',
    params: IdParams,
    idempotencyKey: 'optional',
    answers: { 200: { description: 'Cancelled', schema: PaymentSchema } },
    errors: [404, { status: 409, description: 'PAYMENT_NOT_CANCELLABLE once captured.' }],
  }),
  createDeposit: op({
    operationId: 'createDeposit',
    method: 'post',
    path: '/v1/admin/deposits',
    tag: 'admin',
    summary: 'Money in from the settlement account (operator, admin)',
    description: STAFF_ONLY,
    access: 'operator',
    idempotencyKey: 'required',
    body: DepositRequest,
    answers: { 201: { description: 'Deposited', schema: DepositSchema, headers: ['Idempotent-Replayed'] } },
    errors: [404, { status: 409, description: 'IDEMPOTENCY_KEY_IN_USE: the first request with this key is still running.', headers: ['Retry-After'] }, 422],
  }),
  freezeAccount: op({
    operationId: 'freezeAccount',
    method: 'post',
    path: '/v1/admin/accounts/{id}/freeze',
    tag: 'admin',
    summary: 'Freeze an account (operator, admin)',
    description: STAFF_ONLY,
    access: 'operator',
    params: IdParams,
    idempotencyKey: 'optional',
    body: FreezeRequest,
    answers: { 200: { description: 'Frozen', schema: AccountSchema } },
    errors: [404, 409, { status: 422, description: 'ACCOUNT_CLOSED: a closed account is neither frozen nor unfrozen; ACCOUNT_FROZEN where it already is.' }],
  }),
  unfreezeAccount: op({
    operationId: 'unfreezeAccount',
    method: 'post',
    path: '/v1/admin/accounts/{id}/unfreeze',
    tag: 'admin',
    summary: 'Unfreeze an account (operator, admin)',
    description: STAFF_ONLY,
    access: 'operator',
    params: IdParams,
    idempotencyKey: 'optional',
    answers: { 200: { description: 'Active again', schema: AccountSchema } },
    errors: [404, 409, { status: 422, description: 'ACCOUNT_CLOSED: a closed account is neither frozen nor unfrozen; ACCOUNT_FROZEN where it already is.' }],
  }),
  getPaymentTimeline: op({
    operationId: 'getPaymentTimeline',
    method: 'get',
    path: '/v1/admin/payments/{id}/timeline',
    tag: 'admin',
    summary: "A payment's whole history across the services (operator, admin)",
    description: STAFF_ONLY,
    access: 'operator',
    params: IdParams,
    answers: { 200: { description: 'Timeline', schema: TimelineSchema } },
    errors: [404],
  }),
  getAnyAccount: op({
    operationId: 'getAnyAccount',
    method: 'get',
    path: '/v1/admin/accounts/{id}',
    tag: 'admin',
    summary: "Any customer's account (operator, admin)",
    description: STAFF_ONLY,
    access: 'operator',
    params: IdParams,
    answers: { 200: { description: 'Account', schema: AccountSchema } },
    errors: [404],
  }),
  getJwks: op({
    operationId: 'getJwks',
    method: 'get',
    path: '/.well-known/jwks.json',
    tag: 'auth',
    summary: 'Public keys that verify access tokens',
    access: 'public',
    answers: { 200: { description: 'The key set (cacheable)', schema: JwksSchema, headers: ['Cache-Control', 'Age'] } },
    errors: [503],
  }),
  getHealth: op({
    operationId: 'getHealth',
    method: 'get',
    path: '/healthz',
    tag: 'operability',
    summary: 'The process is alive',
    access: 'public',
    answers: { 200: { description: 'Alive', schema: HealthSchema } },
  }),
  getReadiness: op({
    operationId: 'getReadiness',
    method: 'get',
    path: '/readyz',
    tag: 'operability',
    summary: 'Whether to send traffic here: every service the gateway calls answers',
    description: 'What is up or down is told only on the operations port (GATEWAY_OPS_PORT).',
    access: 'public',
    answers: { 200: { description: 'Ready', schema: ReadinessSchema }, 503: { description: 'Not ready', schema: ReadinessSchema } },
  }),
  getOpenApi: op({
    operationId: 'getOpenApi',
    method: 'get',
    path: '/openapi.json',
    tag: 'operability',
    summary: 'This document',
    access: 'public',
    answers: { 200: { description: 'OpenAPI 3.1', schema: OpenApiDocumentSchema } },
  }),
  getDocs: op({
    operationId: 'getDocs',
    method: 'get',
    path: '/docs',
    tag: 'operability',
    summary: 'Swagger UI for this document',
    access: 'public',
    answers: { 200: { description: 'HTML', contentType: 'text/html' } },
  }),
} as const satisfies Record<string, Operation>;

export type OperationName = keyof typeof OPERATIONS;

/** Express's form of an OpenAPI path: `{id}` becomes `:id`. */
export function expressPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}
