import { OPENAPI_DOCUMENT } from './openapi';

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

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and every $ref points at something', () => {
    expect(OPENAPI_DOCUMENT.openapi).toBe('3.1.0');
    const refs = refsIn(OPENAPI_DOCUMENT);
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((r) => resolve(r) === undefined)).toEqual([]);
  });

  it('gives every operation a unique operationId', () => {
    const ids = Object.values(OPENAPI_DOCUMENT.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('requires the Idempotency-Key exactly on payments and deposits', () => {
    const required: string[] = [];
    for (const [path, ops] of Object.entries(OPENAPI_DOCUMENT.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (JSON.stringify(op.parameters ?? []).includes('IdempotencyKeyRequired')) required.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(required.sort()).toEqual(['POST /v1/admin/deposits', 'POST /v1/payments']);
  });

  it('declares every path parameter it uses', () => {
    for (const [path, ops] of Object.entries(OPENAPI_DOCUMENT.paths)) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(ops)) {
        const declared = (op.parameters ?? []).map((p) => resolve(String((p as { $ref?: string }).$ref)) as { name: string; in: string } | undefined).filter((p) => p?.in === 'path').map((p) => p?.name);
        expect([path, declared]).toEqual([path, inPath]);
      }
    }
  });
});
