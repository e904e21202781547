import { CURRENCY_SCALES, ROLES } from '@bank/kernel';
import { PROBLEM_CODES } from './problem';
import { BODY_LIMIT_BYTES } from './body';
import { MAX_REQUEST_ID_LENGTH } from './request-id';

/**
 * The OpenAPI 3.1 description of API.md, written in code so that it is type-checked, shares its
 * limits with the implementation and ships without a build step. When a route changes, this
 * changes in the same commit; the integration test pins the list of operations.
 */

type JsonSchema = Readonly<Record<string, unknown>>;

interface Operation {
  readonly tags: readonly string[];
  readonly summary: string;
  readonly description?: string;
  readonly operationId: string;
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly parameters?: readonly JsonSchema[];
  readonly requestBody?: JsonSchema;
  readonly responses: Readonly<Record<string, JsonSchema>>;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const MAX_PREFER_WAIT_SECONDS = 30;
/** API.md: 10 to 72 bytes; 72 is where bcrypt stops reading. */
export const MIN_PASSWORD_BYTES = 10;
export const MAX_PASSWORD_BYTES = 72;

const ref = (kind: 'schemas' | 'responses' | 'parameters' | 'headers', name: string): JsonSchema => ({ $ref: `#/components/${kind}/${name}` });
const schemaRef = (name: string) => ref('schemas', name);

function json(schema: JsonSchema): JsonSchema {
  return { 'application/json': { schema } };
}

function body(schemaName: string, description?: string): JsonSchema {
  return { required: true, ...(description ? { description } : {}), content: json(schemaRef(schemaName)) };
}

function ok(description: string, schemaName?: string, headers: Readonly<Record<string, JsonSchema>> = {}): JsonSchema {
  return {
    description,
    headers: { 'X-Request-Id': ref('headers', 'X-Request-Id'), ...headers },
    ...(schemaName ? { content: json(schemaRef(schemaName)) } : {}),
  };
}

/** Rate limit headers ride on every /v1 response. */
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': ref('headers', 'RateLimit-Limit'),
  'RateLimit-Remaining': ref('headers', 'RateLimit-Remaining'),
  'RateLimit-Reset': ref('headers', 'RateLimit-Reset'),
};

/** Answers every /v1 operation can give, whatever it does. */
const COMMON_V1_ERRORS = {
  '400': ref('responses', 'BadRequest'),
  '413': ref('responses', 'PayloadTooLarge'),
  '415': ref('responses', 'UnsupportedMediaType'),
  '429': ref('responses', 'TooManyRequests'),
  '500': ref('responses', 'Internal'),
  '503': ref('responses', 'Unavailable'),
};

const AUTHENTICATED_ERRORS = { ...COMMON_V1_ERRORS, '401': ref('responses', 'Unauthorized') };
const NO_AUTH: readonly Record<string, readonly string[]>[] = [];

function v1(op: Operation & { readonly authenticated: boolean }): Operation {
  const { authenticated, ...rest } = op;
  const errors = authenticated ? AUTHENTICATED_ERRORS : COMMON_V1_ERRORS;
  return {
    ...rest,
    ...(authenticated ? {} : { security: NO_AUTH }),
    parameters: [ref('parameters', 'RequestId'), ...(rest.parameters ?? [])],
    responses: { ...errors, ...rest.responses },
  };
}

const idParam = ref('parameters', 'Id');
const pageParams = [ref('parameters', 'Limit'), ref('parameters', 'Cursor')];
const idempotencyRequired = ref('parameters', 'IdempotencyKeyRequired');
const idempotencyOptional = ref('parameters', 'IdempotencyKey');
const notFound = ref('responses', 'NotFound');
const conflict = ref('responses', 'Conflict');
const unprocessable = ref('responses', 'Unprocessable');

const uuid: JsonSchema = { type: 'string', format: 'uuid' };
const timestamp: JsonSchema = { type: 'string', format: 'date-time' };
const currencies = Object.keys(CURRENCY_SCALES);

const schemas: Readonly<Record<string, JsonSchema>> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details. `code` is stable and meant for programs; `title` and `detail` are for people.',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', format: 'uri', examples: ['https://bank.example/problems/validation-failed'] },
      title: { type: 'string' },
      status: { type: 'integer', minimum: 400, maximum: 599 },
      detail: { type: 'string' },
      code: { type: 'string', description: 'Stable machine code.', examples: Object.keys(PROBLEM_CODES) },
      errors: { type: 'array', description: 'Present for validation failures: one entry per bad field.', items: schemaRef('FieldError') },
    },
  },
  FieldError: {
    type: 'object',
    required: ['field', 'message'],
    properties: { field: { type: 'string', examples: ['amount'] }, message: { type: 'string' } },
  },
  Amount: {
    type: 'integer',
    description: 'Minor units of the currency (1050 = 10.50 USD), a JSON safe integer.',
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
  },
  SignedAmount: {
    type: 'integer',
    description: 'Minor units of the currency; negative only for an account with an overdraft limit.',
    minimum: Number.MIN_SAFE_INTEGER,
    maximum: Number.MAX_SAFE_INTEGER,
  },
  Currency: { type: 'string', description: 'ISO 4217 code the bank supports.', enum: currencies },
  Cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last page.' },
  SignupRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['email', 'password', 'fullName'],
    properties: {
      email: { type: 'string', format: 'email', maxLength: 254 },
      password: { type: 'string', description: `${MIN_PASSWORD_BYTES} to ${MAX_PASSWORD_BYTES} bytes of UTF-8, else 400 WEAK_PASSWORD.`, minLength: 1, writeOnly: true },
      fullName: { type: 'string', minLength: 1, maxLength: 200 },
    },
  },
  SignupResponse: {
    type: 'object',
    required: ['userId', 'email'],
    properties: { userId: uuid, email: { type: 'string', format: 'email' } },
  },
  LoginRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['email', 'password'],
    properties: { email: { type: 'string', format: 'email' }, password: { type: 'string', writeOnly: true } },
  },
  RefreshRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['refreshToken'],
    properties: { refreshToken: { type: 'string', writeOnly: true } },
  },
  TokenPair: {
    type: 'object',
    required: ['accessToken', 'refreshToken', 'tokenType', 'expiresIn'],
    properties: {
      accessToken: { type: 'string', description: 'JWT; send as `Authorization: Bearer <accessToken>`.' },
      refreshToken: { type: 'string', description: 'Single use: each refresh returns a new one.' },
      tokenType: { type: 'string', const: 'Bearer' },
      expiresIn: { type: 'integer', description: 'Seconds until the access token expires.', minimum: 1 },
    },
  },
  Jwks: {
    type: 'object',
    description: 'RFC 7517 JSON Web Key Set: the public keys that verify access tokens.',
    required: ['keys'],
    properties: { keys: { type: 'array', items: { type: 'object', required: ['kty', 'kid'], properties: { kty: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string' }, use: { type: 'string' } } } } },
  },
  Profile: {
    type: 'object',
    required: ['id', 'email', 'fullName', 'roles', 'createdAt'],
    properties: {
      id: uuid,
      email: { type: 'string', format: 'email' },
      fullName: { type: 'string' },
      phone: { type: ['string', 'null'] },
      roles: { type: 'array', items: { type: 'string', enum: [...ROLES] } },
      createdAt: timestamp,
    },
  },
  UpdateProfileRequest: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: { fullName: { type: 'string', minLength: 1, maxLength: 200 }, phone: { type: 'string', description: 'E.164, e.g. +447700900123.' } },
  },
  OpenAccountRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['currency'],
    properties: { currency: schemaRef('Currency') },
  },
  Balance: {
    type: 'object',
    required: ['posted', 'pending', 'available'],
    properties: {
      posted: { ...schemaRef('SignedAmount'), description: 'Credits posted minus debits posted.' },
      pending: { ...schemaRef('SignedAmount'), description: 'Debits on hold.' },
      available: { ...schemaRef('SignedAmount'), description: 'posted − pending (plus any overdraft limit).' },
    },
  },
  Account: {
    type: 'object',
    required: ['id', 'ownerId', 'currency', 'status', 'balance', 'createdAt'],
    properties: {
      id: uuid,
      ownerId: uuid,
      currency: schemaRef('Currency'),
      status: { type: 'string', enum: ['active', 'frozen', 'closed'] },
      balance: schemaRef('Balance'),
      createdAt: timestamp,
    },
  },
  Entry: {
    type: 'object',
    description: 'One statement line. A hold and its outcome are one entry: `pending`, then `posted` or `voided`.',
    required: ['id', 'transferId', 'paymentId', 'direction', 'amount', 'currency', 'balanceAfter', 'status', 'description', 'createdAt'],
    properties: {
      id: uuid,
      transferId: uuid,
      paymentId: { type: ['string', 'null'], format: 'uuid' },
      direction: { type: 'string', enum: ['debit', 'credit'] },
      amount: schemaRef('Amount'),
      currency: schemaRef('Currency'),
      balanceAfter: { ...schemaRef('SignedAmount'), description: 'The posted balance right after the entry took effect.' },
      status: { type: 'string', enum: ['pending', 'posted', 'voided'] },
      description: { type: 'string' },
      createdAt: timestamp,
    },
  },
  CreatePaymentRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['sourceAccountId', 'destinationAccountId', 'amount', 'currency'],
    properties: {
      sourceAccountId: uuid,
      destinationAccountId: uuid,
      amount: schemaRef('Amount'),
      currency: schemaRef('Currency'),
      description: { type: 'string', maxLength: 140 },
    },
  },
  Payment: {
    type: 'object',
    required: ['id', 'sourceAccountId', 'destinationAccountId', 'amount', 'currency', 'description', 'status', 'failureCode', 'createdAt', 'completedAt'],
    properties: {
      id: uuid,
      sourceAccountId: uuid,
      destinationAccountId: uuid,
      amount: schemaRef('Amount'),
      currency: schemaRef('Currency'),
      description: { type: 'string' },
      status: { type: 'string', enum: ['pending', 'completed', 'failed', 'cancelled'] },
      failureCode: { type: ['string', 'null'], examples: ['INSUFFICIENT_FUNDS', 'ACCOUNT_FROZEN', 'ACCOUNT_CLOSED', 'LIMIT_EXCEEDED'] },
      createdAt: timestamp,
      completedAt: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  DepositRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['accountId', 'amount', 'currency', 'reference'],
    properties: { accountId: uuid, amount: schemaRef('Amount'), currency: schemaRef('Currency'), reference: { type: 'string', minLength: 1, maxLength: 140 } },
  },
  Deposit: {
    type: 'object',
    required: ['id', 'accountId', 'amount', 'currency', 'status'],
    properties: { id: uuid, accountId: uuid, amount: schemaRef('Amount'), currency: schemaRef('Currency'), status: { type: 'string', const: 'completed' } },
  },
  FreezeRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['reason'],
    properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
  },
  AccountList: listOf('Account'),
  EntryList: listOf('Entry'),
  PaymentList: listOf('Payment'),
  Health: { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } },
  Readiness: {
    type: 'object',
    required: ['status', 'checks'],
    properties: {
      status: { type: 'string', enum: ['ready', 'not-ready'] },
      checks: { type: 'object', description: 'Each dependency (gRPC peers, redis): up or down.', additionalProperties: { type: 'string', enum: ['up', 'down'] } },
    },
  },
};

function listOf(itemSchema: string): JsonSchema {
  return {
    type: 'object',
    required: ['data', 'nextCursor'],
    properties: { data: { type: 'array', items: schemaRef(itemSchema) }, nextCursor: schemaRef('Cursor') },
  };
}

function problemResponse(description: string, headers: Readonly<Record<string, JsonSchema>> = {}): JsonSchema {
  return {
    description,
    headers: { 'X-Request-Id': ref('headers', 'X-Request-Id'), ...headers },
    content: { 'application/problem+json': { schema: schemaRef('Problem') } },
  };
}

const header = (description: string, schema: JsonSchema): JsonSchema => ({ description, schema });

const components = {
  securitySchemes: {
    bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token from POST /v1/auth/login or /v1/auth/refresh.' },
  },
  headers: {
    'X-Request-Id': header('The request id: the one the client sent, or a new UUID.', { type: 'string', maxLength: MAX_REQUEST_ID_LENGTH }),
    'RateLimit-Limit': header('Requests allowed in the current window.', { type: 'integer' }),
    'RateLimit-Remaining': header('Requests left in the current window.', { type: 'integer' }),
    'RateLimit-Reset': header('Seconds until the window resets.', { type: 'integer' }),
    'Retry-After': header('Seconds to wait before retrying.', { type: 'integer' }),
    'Idempotent-Replayed': header('`true` when this is the stored reply of an earlier request with the same Idempotency-Key.', { type: 'string', const: 'true' }),
    'WWW-Authenticate': header('The bearer challenge.', { type: 'string', examples: ['Bearer realm="bank"'] }),
  },
  parameters: {
    Id: { name: 'id', in: 'path', required: true, description: 'A UUID; malformed: 400; unknown or not yours: 404.', schema: uuid },
    Limit: { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } },
    Cursor: { name: 'cursor', in: 'query', required: false, description: 'The `nextCursor` of the previous page.', schema: { type: 'string' } },
    RequestId: {
      name: 'X-Request-Id',
      in: 'header',
      required: false,
      description: `Echoed back when it is 1 to ${MAX_REQUEST_ID_LENGTH} printable ASCII characters; otherwise the gateway makes one.`,
      schema: { type: 'string', minLength: 1, maxLength: MAX_REQUEST_ID_LENGTH },
    },
    IdempotencyKeyRequired: {
      name: 'Idempotency-Key',
      in: 'header',
      required: true,
      description: `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters, scoped to the user and kept at least 24 h. Same key and body: the original reply again (Idempotent-Replayed: true). Missing or malformed: 400 IDEMPOTENCY_KEY_REQUIRED.`,
      schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
    },
    IdempotencyKey: {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: `Optional here; same rules as where it is required (1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters).`,
      schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
    },
    Prefer: {
      name: 'Prefer',
      in: 'header',
      required: false,
      description: `\`wait=N\` (N ≤ ${MAX_PREFER_WAIT_SECONDS}): wait up to N seconds and answer 201 with the terminal payment if it finished in time.`,
      schema: { type: 'string', pattern: '^wait=\\d+$', examples: ['wait=10'] },
    },
    AccountIdQuery: { name: 'accountId', in: 'query', required: true, description: 'Payments from or to this account (yours).', schema: uuid },
  },
  responses: {
    BadRequest: problemResponse('Invalid request (VALIDATION_FAILED with `errors`, IDEMPOTENCY_KEY_REQUIRED, ...).'),
    Unauthorized: problemResponse('Missing, expired, tampered or wrong-algorithm access token (UNAUTHENTICATED).', { 'WWW-Authenticate': ref('headers', 'WWW-Authenticate') }),
    NotFound: problemResponse('No such resource, or not yours (NOT_FOUND).'),
    Conflict: problemResponse('Conflicts with the current state (see `code`).'),
    PayloadTooLarge: problemResponse(`Body over ${BODY_LIMIT_BYTES} bytes (PAYLOAD_TOO_LARGE).`),
    UnsupportedMediaType: problemResponse('Body is not JSON (UNSUPPORTED_MEDIA_TYPE).'),
    Unprocessable: problemResponse('Understood but refused (see `code`, e.g. INSUFFICIENT_FUNDS, IDEMPOTENCY_KEY_REUSED).'),
    TooManyRequests: problemResponse('Over the rate limit (RATE_LIMITED).', { 'Retry-After': ref('headers', 'Retry-After'), ...RATE_LIMIT_HEADERS }),
    Internal: problemResponse('Unexpected failure (INTERNAL); the X-Request-Id finds it in the logs.'),
    Unavailable: problemResponse('A service behind the gateway is down or too slow (UNAVAILABLE).'),
  },
  schemas,
};

const paths: Readonly<Record<string, Readonly<Record<string, Operation>>>> = {
  '/v1/auth/signup': {
    post: v1({
      tags: ['auth'],
      operationId: 'signUp',
      summary: 'Create a customer',
      description: 'Stricter rate limit than the rest of the API.',
      authenticated: false,
      parameters: [idempotencyOptional],
      requestBody: body('SignupRequest'),
      responses: { '201': ok('Created', 'SignupResponse', RATE_LIMIT_HEADERS), '409': conflict },
    }),
  },
  '/v1/auth/login': {
    post: v1({
      tags: ['auth'],
      operationId: 'logIn',
      summary: 'Exchange email and password for tokens',
      description: 'A wrong email and a wrong password give the same 401 INVALID_CREDENTIALS. Stricter rate limit than the rest of the API.',
      authenticated: false,
      requestBody: body('LoginRequest'),
      responses: { '200': ok('Tokens', 'TokenPair', RATE_LIMIT_HEADERS), '401': ref('responses', 'Unauthorized') },
    }),
  },
  '/v1/auth/refresh': {
    post: v1({
      tags: ['auth'],
      operationId: 'refreshTokens',
      summary: 'Rotate the refresh token',
      description: 'Returns a new pair; the old refresh token stops working. Presenting an already used one revokes its whole family (401).',
      authenticated: false,
      requestBody: body('RefreshRequest'),
      responses: { '200': ok('New tokens', 'TokenPair', RATE_LIMIT_HEADERS), '401': ref('responses', 'Unauthorized') },
    }),
  },
  '/v1/auth/logout': {
    post: v1({
      tags: ['auth'],
      operationId: 'logOut',
      summary: 'Revoke a refresh token',
      authenticated: false,
      requestBody: body('RefreshRequest'),
      responses: { '204': ok('Logged out', undefined, RATE_LIMIT_HEADERS) },
    }),
  },
  '/.well-known/jwks.json': {
    get: {
      tags: ['auth'],
      operationId: 'getJwks',
      summary: 'Public keys that verify access tokens',
      security: NO_AUTH,
      responses: { '200': ok('The key set', 'Jwks'), '503': ref('responses', 'Unavailable') },
    },
  },
  '/v1/me': {
    get: v1({
      tags: ['me'],
      operationId: 'getMe',
      summary: 'Your profile',
      authenticated: true,
      responses: { '200': ok('Profile', 'Profile', RATE_LIMIT_HEADERS) },
    }),
    patch: v1({
      tags: ['me'],
      operationId: 'updateMe',
      summary: 'Change your profile',
      authenticated: true,
      requestBody: body('UpdateProfileRequest'),
      responses: { '200': ok('Profile', 'Profile', RATE_LIMIT_HEADERS) },
    }),
  },
  '/v1/accounts': {
    post: v1({
      tags: ['accounts'],
      operationId: 'openAccount',
      summary: 'Open an account',
      authenticated: true,
      parameters: [idempotencyOptional],
      requestBody: body('OpenAccountRequest'),
      responses: { '201': ok('Opened', 'Account', RATE_LIMIT_HEADERS) },
    }),
    get: v1({
      tags: ['accounts'],
      operationId: 'listAccounts',
      summary: 'Your accounts',
      authenticated: true,
      parameters: pageParams,
      responses: { '200': ok('A page of accounts', 'AccountList', RATE_LIMIT_HEADERS) },
    }),
  },
  '/v1/accounts/{id}': {
    get: v1({
      tags: ['accounts'],
      operationId: 'getAccount',
      summary: 'One of your accounts',
      authenticated: true,
      parameters: [idParam],
      responses: { '200': ok('Account', 'Account', RATE_LIMIT_HEADERS), '404': notFound },
    }),
  },
  '/v1/accounts/{id}/transactions': {
    get: v1({
      tags: ['accounts'],
      operationId: 'listAccountEntries',
      summary: 'Statement of an account, newest first',
      authenticated: true,
      parameters: [idParam, ...pageParams],
      responses: { '200': ok('A page of entries', 'EntryList', RATE_LIMIT_HEADERS), '404': notFound },
    }),
  },
  '/v1/accounts/{id}/close': {
    post: v1({
      tags: ['accounts'],
      operationId: 'closeAccount',
      summary: 'Close an account',
      description: '409 ACCOUNT_NOT_EMPTY while its balance or holds are not zero.',
      authenticated: true,
      parameters: [idParam, idempotencyOptional],
      responses: { '200': ok('Closed', 'Account', RATE_LIMIT_HEADERS), '404': notFound, '409': conflict },
    }),
  },
  '/v1/payments': {
    post: v1({
      tags: ['payments'],
      operationId: 'createPayment',
      summary: 'Pay from one of your accounts to another account',
      description:
        'Checked at once (400/404/422): amount, currency, source equal to destination, source not yours, destination unknown, currency mismatch. ' +
        'Found later (the payment ends `failed` with `failureCode`): INSUFFICIENT_FUNDS, ACCOUNT_FROZEN, ACCOUNT_CLOSED, LIMIT_EXCEEDED.',
      authenticated: true,
      parameters: [idempotencyRequired, ref('parameters', 'Prefer')],
      requestBody: body('CreatePaymentRequest'),
      responses: {
        '201': ok('Finished within the `Prefer: wait` time: the terminal payment', 'Payment', { ...RATE_LIMIT_HEADERS, 'Idempotent-Replayed': ref('headers', 'Idempotent-Replayed') }),
        '202': ok('Accepted: the payment is pending', 'Payment', { ...RATE_LIMIT_HEADERS, 'Idempotent-Replayed': ref('headers', 'Idempotent-Replayed') }),
        '404': notFound,
        '409': problemResponse('IDEMPOTENCY_KEY_IN_USE: the first request with this key is still running.', { 'Retry-After': ref('headers', 'Retry-After') }),
        '422': unprocessable,
      },
    }),
    get: v1({
      tags: ['payments'],
      operationId: 'listPayments',
      summary: 'Payments from or to one of your accounts',
      authenticated: true,
      parameters: [ref('parameters', 'AccountIdQuery'), ...pageParams],
      responses: { '200': ok('A page of payments', 'PaymentList', RATE_LIMIT_HEADERS), '404': notFound },
    }),
  },
  '/v1/payments/{id}': {
    get: v1({
      tags: ['payments'],
      operationId: 'getPayment',
      summary: 'A payment (visible to the owners of either account)',
      authenticated: true,
      parameters: [idParam],
      responses: { '200': ok('Payment', 'Payment', RATE_LIMIT_HEADERS), '404': notFound },
    }),
  },
  '/v1/payments/{id}/cancel': {
    post: v1({
      tags: ['payments'],
      operationId: 'cancelPayment',
      summary: 'Cancel a pending payment',
      description: '409 PAYMENT_NOT_CANCELLABLE once captured.',
      authenticated: true,
      parameters: [idParam, idempotencyOptional],
      responses: { '200': ok('Cancelled', 'Payment', RATE_LIMIT_HEADERS), '404': notFound, '409': conflict },
    }),
  },
  '/v1/admin/deposits': {
    post: v1({
      tags: ['admin'],
      operationId: 'createDeposit',
      summary: 'Money in from the settlement account (operator, admin)',
      description: 'Callers without the operator or admin role get 404.',
      authenticated: true,
      parameters: [idempotencyRequired],
      requestBody: body('DepositRequest'),
      responses: {
        '201': ok('Deposited', 'Deposit', { ...RATE_LIMIT_HEADERS, 'Idempotent-Replayed': ref('headers', 'Idempotent-Replayed') }),
        '404': notFound,
        '409': conflict,
        '422': unprocessable,
      },
    }),
  },
  '/v1/admin/accounts/{id}/freeze': {
    post: v1({
      tags: ['admin'],
      operationId: 'freezeAccount',
      summary: 'Freeze an account (operator, admin)',
      description: 'Callers without the operator or admin role get 404.',
      authenticated: true,
      parameters: [idParam, idempotencyOptional],
      requestBody: body('FreezeRequest'),
      responses: { '200': ok('Frozen', 'Account', RATE_LIMIT_HEADERS), '404': notFound },
    }),
  },
  '/v1/admin/accounts/{id}/unfreeze': {
    post: v1({
      tags: ['admin'],
      operationId: 'unfreezeAccount',
      summary: 'Unfreeze an account (operator, admin)',
      description: 'Callers without the operator or admin role get 404.',
      authenticated: true,
      parameters: [idParam, idempotencyOptional],
      responses: { '200': ok('Active again', 'Account', RATE_LIMIT_HEADERS), '404': notFound },
    }),
  },
  '/v1/admin/accounts/{id}': {
    get: v1({
      tags: ['admin'],
      operationId: 'getAnyAccount',
      summary: "Any customer's account (operator, admin)",
      description: 'Callers without the operator or admin role get 404.',
      authenticated: true,
      parameters: [idParam],
      responses: { '200': ok('Account', 'Account', RATE_LIMIT_HEADERS), '404': notFound },
    }),
  },
  '/healthz': {
    get: {
      tags: ['operability'],
      operationId: 'getHealth',
      summary: 'The process is alive',
      security: NO_AUTH,
      responses: { '200': ok('Alive', 'Health') },
    },
  },
  '/readyz': {
    get: {
      tags: ['operability'],
      operationId: 'getReadiness',
      summary: 'Every dependency answers',
      security: NO_AUTH,
      responses: {
        '200': ok('Ready', 'Readiness'),
        '503': { description: 'Not ready', content: json(schemaRef('Readiness')) },
      },
    },
  },
  '/metrics': {
    get: {
      tags: ['operability'],
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      security: NO_AUTH,
      responses: { '200': { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
  '/openapi.json': {
    get: {
      tags: ['operability'],
      operationId: 'getOpenApi',
      summary: 'This document',
      security: NO_AUTH,
      responses: { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } },
    },
  },
  '/docs': {
    get: {
      tags: ['operability'],
      operationId: 'getDocs',
      summary: 'Swagger UI for this document',
      security: NO_AUTH,
      responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  },
};

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
  info: {
    title: 'Bank API',
    version: '1.0.0',
    description:
      'Public HTTP API of the bank. JSON in and out; money is an integer in minor units with an ISO 4217 currency; ' +
      'errors are RFC 9457 problem documents with a stable `code`; every response carries X-Request-Id.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  servers: [{ url: '/' }],
  tags: [
    { name: 'auth', description: 'Sign up, log in, tokens' },
    { name: 'me', description: 'Your profile' },
    { name: 'accounts', description: 'Your accounts and their statements' },
    { name: 'payments', description: 'Payments between accounts' },
    { name: 'admin', description: 'Operator tools (operator or admin role; others get 404)' },
    { name: 'operability', description: 'Health, readiness, metrics, this document' },
  ],
  security: [{ bearerAuth: [] }],
  paths,
  components,
} as const;
