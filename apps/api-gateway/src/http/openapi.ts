import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_WAIT_SECONDS } from '@bank/payments-core';
import { BODY_LIMIT_BYTES } from './body';
import { OPERATIONS, type Answer, type ErrorStatus, type HeaderName, type Operation } from './operations';
import { MAX_REQUEST_ID_LENGTH } from './request-id';
import { ProblemSchema } from './schemas';

/**
 * The OpenAPI 3.1 document, generated from the operation table and its zod schemas: nothing in it
 * is written by hand but the prose. Served at /openapi.json, linted by `redocly lint` in CI.
 */

type Ref = { readonly $ref: string };
const ref = (kind: 'responses' | 'headers' | 'schemas', name: string): Ref => ({ $ref: `#/components/${kind}/${name}` });

const PROBLEM_RESPONSES = {
  BadRequest: 'Invalid request: VALIDATION_FAILED (with `errors`, one per bad field), UNSUPPORTED_CURRENCY, WEAK_PASSWORD, IDEMPOTENCY_KEY_REQUIRED, ...',
  Unauthorized: 'Missing, expired, tampered or wrong-algorithm access token (UNAUTHENTICATED), or wrong credentials.',
  NotFound: 'No such resource, or not yours (NOT_FOUND).',
  Conflict: 'Conflicts with the current state (see `code`).',
  PayloadTooLarge: `Body over ${BODY_LIMIT_BYTES} bytes (PAYLOAD_TOO_LARGE).`,
  UnsupportedMediaType: 'Body is not JSON (UNSUPPORTED_MEDIA_TYPE).',
  Unprocessable: 'Understood but refused (see `code`, e.g. INSUFFICIENT_FUNDS, CURRENCY_MISMATCH, IDEMPOTENCY_KEY_REUSED).',
  TooManyRequests: 'Over the rate limit (RATE_LIMITED); Retry-After says when to try again.',
  Internal: 'Unexpected failure (INTERNAL); the X-Request-Id finds it in the logs.',
  Unavailable: 'A service behind the gateway is down or too slow (UNAVAILABLE).',
} as const;
type ProblemResponse = keyof typeof PROBLEM_RESPONSES;

const RESPONSE_OF_STATUS: Readonly<Record<ErrorStatus | 400 | 413 | 415 | 429 | 500, ProblemResponse>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  404: 'NotFound',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Unprocessable',
  429: 'TooManyRequests',
  500: 'Internal',
  503: 'Unavailable',
};
/** What any /v1 operation can answer, whatever it does; 401 joins them where a token is needed. */
const V1_ERRORS = [400, 413, 415, 429, 500, 503] as const;

const HEADERS: Readonly<Record<HeaderName | 'X-Request-Id' | 'RateLimit-Limit' | 'RateLimit-Remaining' | 'RateLimit-Reset' | 'WWW-Authenticate', { description: string; schema: Record<string, unknown> }>> = {
  'X-Request-Id': { description: 'The request id: the one the client sent, or a new UUID.', schema: { type: 'string', maxLength: MAX_REQUEST_ID_LENGTH } },
  'RateLimit-Limit': { description: 'Requests allowed in the current window.', schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'Requests left in the current window.', schema: { type: 'integer' } },
  'RateLimit-Reset': { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } },
  'Idempotent-Replayed': { description: '`true` when this is the stored answer of an earlier request with the same Idempotency-Key.', schema: { type: 'string', const: 'true' } },
  Location: { description: 'Where the created resource is.', schema: { type: 'string' } },
  'Preference-Applied': { description: 'Echoes `wait=N` when the server waited as asked.', schema: { type: 'string' } },
  'Cache-Control': { description: 'How long the answer may be kept.', schema: { type: 'string' } },
  Age: { description: 'Seconds since the answer was read from its source (RFC 9111).', schema: { type: 'integer' } },
  'WWW-Authenticate': { description: 'The bearer challenge.', schema: { type: 'string', examples: ['Bearer realm="bank"'] } },
};
const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] as const;

const headerRefs = (names: readonly string[]) => Object.fromEntries(names.map((name) => [name, ref('headers', name)]));

function registerComponents(registry: OpenAPIRegistry) {
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token from POST /v1/auth/login or /v1/auth/refresh.' });
  for (const [name, header] of Object.entries(HEADERS)) registry.registerComponent('headers', name, header);
  registry.register('Problem', ProblemSchema);
  for (const [name, description] of Object.entries(PROBLEM_RESPONSES)) {
    const extra = name === 'TooManyRequests' ? ['Retry-After', ...RATE_LIMIT_HEADERS] : name === 'Unauthorized' ? ['WWW-Authenticate'] : [];
    registry.registerComponent('responses', name, { description, headers: headerRefs(['X-Request-Id', ...extra]), content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
  }
  return {
    requestId: registry.registerParameter(
      'RequestId',
      z
        .string()
        .min(1)
        .max(MAX_REQUEST_ID_LENGTH)
        .optional()
        .openapi({ param: { name: 'X-Request-Id', in: 'header', description: `Echoed back when it is 1 to ${MAX_REQUEST_ID_LENGTH} printable ASCII characters; otherwise the gateway makes one.` } }),
    ),
    keyRequired: registry.registerParameter(
      'IdempotencyKeyRequired',
      z
        .string()
        .regex(IDEMPOTENCY_KEY_PATTERN)
        .min(1)
        .max(MAX_IDEMPOTENCY_KEY_LENGTH)
        .openapi({
          param: {
            name: 'Idempotency-Key',
            in: 'header',
            description: `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters, scoped to the user and kept at least 24 h. Same key and body: the original answer again (Idempotent-Replayed: true); same key, other body: 422 IDEMPOTENCY_KEY_REUSED. Missing or malformed: 400 IDEMPOTENCY_KEY_REQUIRED.`,
          },
        }),
    ),
    keyOptional: registry.registerParameter(
      'IdempotencyKey',
      z
        .string()
        .regex(IDEMPOTENCY_KEY_PATTERN)
        .min(1)
        .max(MAX_IDEMPOTENCY_KEY_LENGTH)
        .optional()
        .openapi({ param: { name: 'Idempotency-Key', in: 'header', description: `Accepted on every POST (API.md) and its format checked: 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters, else 400 IDEMPOTENCY_KEY_REQUIRED. Account opening keeps it (a repeat answers the first account, Idempotent-Replayed: true); elsewhere a repeat gets the operation's own answer to a repeat (a second close is 422 ACCOUNT_CLOSED, a second signup 409 EMAIL_TAKEN).` } }),
    ),
    prefer: registry.registerParameter(
      'Prefer',
      z
        .string()
        .optional()
        .openapi({ param: { name: 'Prefer', in: 'header', description: `\`wait=N\` (N ≤ ${MAX_WAIT_SECONDS}): wait up to N seconds and answer 201 with the terminal payment if it finished in time.` }, example: 'wait=10' }),
    ),
  };
}

function successResponse(op: Operation, answer: Answer): ResponseConfig {
  const v1 = op.path.startsWith('/v1/');
  const headers = headerRefs(['X-Request-Id', ...(v1 ? RATE_LIMIT_HEADERS : []), ...(answer.headers ?? [])]);
  if (answer.schema === undefined && answer.contentType === undefined) return { description: answer.description, headers };
  const contentType = answer.contentType ?? 'application/json';
  return { description: answer.description, headers, content: { [contentType]: { schema: answer.schema ?? z.string() } } };
}

function errorResponses(op: Operation): Record<string, ResponseConfig | Ref> {
  const out: Record<string, ResponseConfig | Ref> = {};
  const v1 = op.path.startsWith('/v1/');
  const always: readonly (keyof typeof RESPONSE_OF_STATUS)[] = v1 ? V1_ERRORS : [500];
  for (const status of always) out[status] = ref('responses', RESPONSE_OF_STATUS[status]);
  if (v1 && op.access !== 'public') out[401] = ref('responses', 'Unauthorized');
  for (const e of op.errors ?? []) {
    if (typeof e === 'number') out[e] = ref('responses', RESPONSE_OF_STATUS[e]);
    else out[e.status] = { description: e.description, headers: headerRefs(['X-Request-Id', ...(e.headers ?? [])]), content: { 'application/problem+json': { schema: ProblemSchema } } };
  }
  return out;
}

function routeOf(op: Operation, params: ReturnType<typeof registerComponents>): RouteConfig {
  const headers = [params.requestId, ...(op.idempotencyKey === 'required' ? [params.keyRequired] : op.idempotencyKey === 'optional' ? [params.keyOptional] : []), ...(op.prefer ? [params.prefer] : [])];
  const answers = Object.entries(op.answers) as [string, Answer][];
  return {
    method: op.method,
    path: op.path,
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description !== undefined ? { description: op.description } : {}),
    ...(op.access === 'public' ? { security: [] } : {}),
    request: {
      ...(op.params ? { params: op.params } : {}),
      ...(op.query ? { query: op.query } : {}),
      headers,
      ...(op.body ? { body: { required: op.bodyOptional !== true, content: { 'application/json': { schema: op.body } } } } : {}),
    },
    responses: { ...Object.fromEntries(answers.map(([status, answer]) => [status, successResponse(op, answer)])), ...errorResponses(op) },
  };
}

export function buildOpenApiDocument() {
  const registry = new OpenAPIRegistry();
  const params = registerComponents(registry);
  for (const op of Object.values(OPERATIONS) as Operation[]) registry.registerPath(routeOf(op, params));
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
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
      { name: 'operability', description: 'Health, readiness, this document' },
    ],
    security: [{ bearerAuth: [] }],
  });
}

/** Built once at load: the document is a function of the code, not of the request. */
export const OPENAPI_DOCUMENT = buildOpenApiDocument();
