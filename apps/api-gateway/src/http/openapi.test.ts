import { OPENAPI_DOCUMENT } from './openapi';
import { OPERATIONS } from './operations';

type Op = { operationId?: string; parameters?: { $ref?: string; name?: string; in?: string }[]; responses?: Record<string, unknown> };
const paths = (OPENAPI_DOCUMENT.paths ?? {}) as Record<string, Record<string, Op>>;
const operations = Object.entries(paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

function resolve(pointer: string): unknown {
  return pointer
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, part) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined), OPENAPI_DOCUMENT);
}

const parameter = (p: { $ref?: string; name?: string; in?: string }) => (p.$ref !== undefined ? (resolve(p.$ref) as { name: string; in: string }) : (p as { name: string; in: string }));

describe('the OpenAPI document, generated from the operation table', () => {
  it('is OpenAPI 3.1, has one operation per table entry, and every $ref points at something', () => {
    expect(OPENAPI_DOCUMENT.openapi).toBe('3.1.0');
    expect(operations.map((o) => o.op.operationId).sort()).toEqual(Object.values(OPERATIONS).map((o) => o.operationId).sort());
    const refs = refsIn(OPENAPI_DOCUMENT);
    expect(refs.length).toBeGreaterThan(100);
    expect(refs.filter((r) => resolve(r) === undefined)).toEqual([]);
  });

  it('requires the Idempotency-Key exactly on payments and deposits', () => {
    const required = operations.filter(({ op }) => (op.parameters ?? []).some((p) => p.$ref === '#/components/parameters/IdempotencyKeyRequired')).map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(required.sort()).toEqual(['POST /v1/admin/deposits', 'POST /v1/payments']);
  });

  it('declares every path parameter it uses, and documents 400, 429 and 500 on every /v1 operation', () => {
    for (const { path, op } of operations) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).map(parameter).filter((p) => p.in === 'path').map((p) => p.name);
      expect([path, declared]).toEqual([path, inPath]);
      if (path.startsWith('/v1/')) expect([path, Object.keys(op.responses ?? {})]).toEqual([path, expect.arrayContaining(['400', '429', '500'])]);
    }
  });

  it('takes its limits from the services: fullName, the deposit reference and the freeze reason', () => {
    const schemas = (OPENAPI_DOCUMENT.components?.schemas ?? {}) as Record<string, { properties: Record<string, { maxLength?: number }> }>;
    expect(schemas.SignupRequest?.properties.fullName?.maxLength).toBe(100);
    expect(schemas.UpdateProfileRequest?.properties.fullName?.maxLength).toBe(100);
    expect(schemas.CreatePaymentRequest?.properties.description?.maxLength).toBe(500);
    expect(schemas.DepositRequest?.properties.reference?.maxLength).toBe(255);
    expect(schemas.FreezeRequest?.properties.reason?.maxLength).toBe(500);
  });
});
