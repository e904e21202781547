import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { newId } from '@bank/kernel';
import { callApi, signInOperator, signUpCustomer, startTestBank, type TestBank } from '@bank/testkit';
import { OPENAPI_DOCUMENT } from './http/openapi';

// Every route, driven from the OpenAPI document alone: fast-check builds valid requests from its
// schemas and invalid ones by breaking one thing in a valid one, and ajv checks each real answer
// against the schema the document gives for its status. Nothing here knows a route by hand.

/** Generated requests per route; the issue asks for at least 200 in CI. */
const RUNS_PER_ROUTE = Number(process.env.CONTRACT_RUNS_PER_ROUTE ?? 200);
/** Longest generated free text: long enough to reach limits of tens of characters, short enough to stay fast. */
const MAX_GENERATED_TEXT = 40;
const DOC_ID = 'https://bank.example/openapi.json';
/** The sentences of the gateway's own schema check (input.ts), as opposed to a service's rules. */
const SCHEMA_MESSAGES = /^(is not a field of this request|is required|must not be (empty|blank)|must not contain U\+0000|must not be blank or contain U\+0000|must be an? (string|integer|object|boolean|array)|must be a UUID|must be at (least|most) \d+( characters)?|must be one of .*)$/;

type Json = Record<string, unknown>;
type Schema = Json & { $ref?: string; type?: string | string[]; properties?: Record<string, Schema>; required?: string[]; enum?: unknown[]; anyOf?: Schema[]; minLength?: number; maxLength?: number; minimum?: number; maximum?: number; format?: string; pattern?: string; items?: Schema };
interface Parameter { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: Schema }
interface Operation { operationId: string; parameters?: (Parameter | { $ref: string })[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, Json>; security?: unknown[] }

const doc = JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)) as Json & { paths: Record<string, Record<string, Operation>> };

function resolve<T>(node: T | { $ref: string }): T {
  let current: unknown = node;
  while (typeof current === 'object' && current !== null && typeof (current as { $ref?: unknown }).$ref === 'string') {
    const pointer = (current as { $ref: string }).$ref.replace(/^#\//, '').split('/');
    current = pointer.reduce<unknown>((n, part) => (n as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return current as T;
}

let bank: TestBank;
let customer: { token: string; userId: string };
let operatorToken: string;
/** Ids that exist, so that valid requests reach past "not found" as often as they stop at it. */
const known: string[] = [];

beforeAll(async () => {
  bank = await startTestBank({ label: 'contract', gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '100000', GATEWAY_RATE_LIMIT_PER_MIN: '1000000' } });
  customer = await signUpCustomer(bank.url);
  operatorToken = await signInOperator(bank);
  for (const currency of ['USD', 'EUR']) {
    const opened = await callApi(bank.url, 'POST', '/v1/accounts', { currency }, customer.token);
    known.push(opened.body!.id as string);
  }
  const other = await signUpCustomer(bank.url);
  const payee = await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, other.token);
  known.push(payee.body!.id as string);
  const funded = await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: known[0], amount: 1_000_000, currency: 'USD', reference: 'contract test' }, operatorToken, { 'Idempotency-Key': newId() });
  expect(funded.status).toBe(201);
  const paid = await callApi(bank.url, 'POST', '/v1/payments', { sourceAccountId: known[0], destinationAccountId: known[2], amount: 1, currency: 'USD' }, customer.token, { 'Idempotency-Key': newId() });
  known.push(paid.body!.id as string);
}, 120_000);

afterAll(async () => {
  await bank?.stop();
});

// Values from schemas.

const printable = (minLength: number, maxLength: number) => fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.@+'.split('')), minLength, maxLength });

function valueOf(schema: Schema): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.anyOf) return fc.oneof(...s.anyOf.map(valueOf));
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const props = Object.entries(s.properties ?? {});
      const required = new Set(s.required ?? []);
      return fc.record(Object.fromEntries(props.map(([k, v]) => [k, valueOf(v)])), { requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)) });
    }
    case 'integer': {
      const min = s.minimum ?? Number.MIN_SAFE_INTEGER;
      const max = s.maximum ?? Number.MAX_SAFE_INTEGER;
      return fc.oneof(fc.integer({ min: Math.max(min, -1_000), max: Math.min(max, 1_000) }), fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number));
    }
    case 'string': {
      if (s.format === 'uuid') return fc.oneof(fc.constantFrom(...known), fc.uuid());
      const min = s.minLength ?? 0;
      const text = printable(min, Math.max(min, Math.min(s.maxLength ?? MAX_GENERATED_TEXT, MAX_GENERATED_TEXT)));
      return s.pattern === undefined ? text : text.filter((v) => new RegExp(s.pattern as string, 'u').test(v));
    }
    case 'boolean':
      return fc.boolean();
    default:
      throw new Error(`no generator for ${JSON.stringify(s)}`);
  }
}

/** A value of another JSON type than the schema takes. */
function wrongTypeOf(schema: Schema): fc.Arbitrary<unknown> {
  const s = resolve(schema);
  const type = Array.isArray(s.type) ? s.type[0] : (s.type ?? (s.enum ? typeof s.enum[0] : 'object'));
  return type === 'string' ? fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant([])) : fc.oneof(printable(1, 5), fc.constant(true), fc.constant(null), fc.constant({}));
}

// Requests from operations.

interface Request {
  readonly params: Record<string, string>;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}
interface Case {
  readonly request: Request;
  /** undefined: a valid request; else the field a 400 must name. */
  readonly badField?: string;
}

function parametersOf(op: Operation): Parameter[] {
  return (op.parameters ?? []).map((p) => resolve<Parameter>(p));
}

function validRequest(op: Operation): fc.Arbitrary<Request> {
  const params = parametersOf(op);
  const group = (where: Parameter['in']) =>
    fc.record(
      Object.fromEntries(
        params
          .filter((p) => p.in === where && p.name !== 'X-Request-Id' && p.name !== 'Prefer')
          .map((p) => [p.name, p.name === 'Idempotency-Key' ? fc.uuid() : valueOf(p.schema).map(String)]),
      ),
      { requiredKeys: params.filter((p) => p.in === where && p.required).map((p) => p.name) },
    ) as fc.Arbitrary<Record<string, string>>;
  const bodySchema = op.requestBody?.content['application/json']?.schema;
  return fc.record({ params: group('path'), query: group('query'), headers: group('header'), body: bodySchema ? valueOf(bodySchema) : fc.constant(undefined) });
}

/** One valid request with exactly one thing broken, and the field the answer must name. */
function invalidCase(op: Operation): fc.Arbitrary<Case> | undefined {
  const params = parametersOf(op);
  const bodySchema = op.requestBody ? resolve(op.requestBody.content['application/json']!.schema) : undefined;
  const breaks: fc.Arbitrary<Case>[] = [];
  const valid = validRequest(op);
  for (const p of params.filter((q) => q.in === 'path')) {
    breaks.push(valid.chain((r) => printable(1, 12).filter((v) => !/^[0-9a-f-]{36}$/i.test(v) && !/^\.+$/.test(v)).map((bad) => ({ request: { ...r, params: { ...r.params, [p.name]: encodeURIComponent(bad) } }, badField: p.name }))));
  }
  for (const p of params.filter((q) => q.in === 'query' && resolve(q.schema).type === 'integer')) {
    breaks.push(valid.chain((r) => fc.oneof(fc.constant('0'), fc.constant('101'), fc.constant('-1'), fc.constantFrom('0x10', '1e2', ' 5', '+5', '5.0', '007x'), printable(1, 4).filter((v) => !/^\d{1,3}$/.test(v) || Number(v) < 1 || Number(v) > 100)).map((bad) => ({ request: { ...r, query: { ...r.query, [p.name]: bad } }, badField: p.name }))));
  }
  if (params.some((p) => p.name === 'Idempotency-Key' && p.required)) {
    breaks.push(valid.chain((r) => fc.constantFrom(undefined, 'x'.repeat(256)).map((bad) => ({ request: { ...r, headers: bad === undefined ? ({} as Record<string, string>) : { 'Idempotency-Key': bad } }, badField: 'Idempotency-Key' }))));
  }
  if (bodySchema) {
    const props = Object.entries(bodySchema.properties ?? {});
    breaks.push(valid.chain((r) => fc.constantFrom('x_unknown', 'constructor', 'balance', 'roles').map((field) => ({ request: { ...r, body: { ...(r.body as Json), [field]: 1 } }, badField: field }))));
    for (const name of bodySchema.required ?? []) {
      breaks.push(valid.map((r) => ({ request: { ...r, body: Object.fromEntries(Object.entries(r.body as Json).filter(([k]) => k !== name)) }, badField: name })));
    }
    for (const [name, schema] of props) {
      breaks.push(valid.chain((r) => wrongTypeOf(schema).map((bad) => ({ request: { ...r, body: { ...(r.body as Json), [name]: bad } }, badField: name }))));
      // One character over the documented limit: the limit the document states is the one enforced.
      const maxLength = resolve(schema).maxLength;
      if (maxLength !== undefined) breaks.push(valid.map((r) => ({ request: { ...r, body: { ...(r.body as Json), [name]: 'x'.repeat(maxLength + 1) } }, badField: name })));
      // No text field takes U+0000, which PostgreSQL cannot store.
      if (resolve(schema).type === 'string' && resolve(schema).enum === undefined && resolve(schema).format === undefined) {
        breaks.push(valid.map((r) => ({ request: { ...r, body: { ...(r.body as Json), [name]: 'a\u0000b' } }, badField: name })));
      }
    }
  } else if (!['get', 'delete'].includes(methodOf(op))) {
    breaks.push(valid.map((r) => ({ request: { ...r, body: { unexpected: true } }, badField: 'unexpected' })));
  }
  return breaks.length > 0 ? fc.oneof(...breaks) : undefined;
}

const methodOf = (op: Operation): string => Object.entries(doc.paths).flatMap(([, ops]) => Object.entries(ops)).find(([, o]) => o === op)![0];

// Answers against the document.

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(doc, DOC_ID);
const validators = new Map<string, ValidateFunction>();

function validatorFor(pointer: string): ValidateFunction {
  let v = validators.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
    validators.set(pointer, v);
  }
  return v;
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The schema pointer for an answer, or why the answer is not documented. */
function documentedSchema(path: string, method: string, status: number, contentType: string): { pointer?: string; undocumented?: string } {
  const responses = doc.paths[path]![method]!.responses;
  const entry = responses[String(status)];
  if (entry === undefined) return { undocumented: `status ${status} is not documented` };
  const base = typeof entry.$ref === 'string' ? (entry.$ref as string).replace(/^#/, '') : `/paths/${escape(path)}/${method}/responses/${status}`;
  const content = resolve<{ content?: Record<string, unknown> }>(entry).content;
  if (content === undefined) return {};
  const type = contentType.split(';')[0]!.trim();
  if (!(type in content)) return { undocumented: `content type ${type} is not documented for ${status}` };
  return { pointer: `${base}/content/${escape(type)}/schema` };
}

async function send(path: string, method: string, op: Operation, r: Request) {
  const url = path.replace(/\{(\w+)\}/g, (_m, name: string) => r.params[name] ?? 'missing') + (Object.keys(r.query).length > 0 ? `?${new URLSearchParams(r.query).toString()}` : '');
  const admin = path.startsWith('/v1/admin/');
  const token = op.security === undefined || (op.security as unknown[]).length > 0 ? (admin ? operatorToken : customer.token) : undefined;
  const res = await fetch(`${bank.url}${url}`, {
    method: method.toUpperCase(),
    headers: { ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...r.headers },
    body: r.body === undefined ? undefined : JSON.stringify(r.body),
  });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  return { status: res.status, contentType, body: contentType.includes('json') ? (JSON.parse(text) as unknown) : text };
}

const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

describe('every route, from the OpenAPI document: generated requests against the running bank', () => {
  it.each(operations.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const))('%s: never a 500; invalid input is a 400 naming the field; every answer is documented and matches its schema', async (_name, { path, method, op }) => {
    const invalid = invalidCase(op);
    const cases: fc.Arbitrary<Case> = invalid ? fc.oneof(validRequest(op).map((request) => ({ request })), invalid) : validRequest(op).map((request) => ({ request }));
    let valid = 0;
    let broken = 0;
    await fc.assert(
      fc.asyncProperty(cases, async ({ request, badField }) => {
        const answer = await send(path, method, op, request);
        const context = JSON.stringify({ request, status: answer.status, body: answer.body });
        expect([answer.status >= 500 ? 'a 5xx' : 'no 5xx', context]).toEqual(['no 5xx', context]);
        const { pointer, undocumented } = documentedSchema(path, method, answer.status, answer.contentType);
        expect([undocumented, context]).toEqual([undefined, context]);
        if (pointer !== undefined) {
          const check = validatorFor(pointer);
          expect([check(answer.body) ? 'matches' : ajv.errorsText(check.errors), context]).toEqual(['matches', context]);
        }
        if (badField === undefined) {
          // A request the document calls valid may be refused by a service's own rule (an email
          // that is not one, a cursor never handed out), but never by the gateway's schema check.
          const schemaRefusals = ((answer.body as { errors?: { message: string }[] } | undefined)?.errors ?? []).filter((e) => SCHEMA_MESSAGES.test(e.message));
          expect([schemaRefusals, context]).toEqual([[], context]);
          valid++;
          return;
        }
        broken++;
        const problem = answer.body as { errors?: { field: string }[] };
        expect([answer.status, answer.contentType.split(';')[0], (problem.errors ?? []).map((e) => e.field), context]).toEqual([400, 'application/problem+json', expect.arrayContaining([badField]), context]);
      }),
      { numRuns: RUNS_PER_ROUTE, endOnFailure: true },
    );
    expect(valid + broken).toBe(RUNS_PER_ROUTE);
    if (invalid) expect(Math.min(valid, broken)).toBeGreaterThan(RUNS_PER_ROUTE / 5);
  }, 180_000);
});
