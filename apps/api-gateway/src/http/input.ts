import type { Request } from 'express';
import { isUuid } from '@bank/kernel';
import { ProblemError, type FieldError } from './problem';

/** The longest string any field of the public API takes. */
export const MAX_STRING_FIELD = 1_000;

type Kind = 'string' | 'optional-string' | 'amount';
type Out<K extends Kind> = K extends 'string' ? string : K extends 'amount' ? bigint : string | undefined;
/** The largest amount a JSON number carries exactly (API.md: a safe integer). */
const MAX_JSON_AMOUNT = Number.MAX_SAFE_INTEGER;

/**
 * Reads a JSON body against the fields an endpoint takes: unknown (or read-only) fields are
 * refused rather than ignored, so no field can be mass-assigned; every problem is named.
 */
export function readBody<S extends Record<string, Kind>>(req: Request, spec: S): { [K in keyof S]: Out<S[K]> } {
  const body: unknown = req.body ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ProblemError('VALIDATION_FAILED', 'the body must be a JSON object', [{ field: '', message: 'must be an object' }]);
  const errors: FieldError[] = [];
  const out: Record<string, string | bigint | undefined> = {};
  // Own keys only: `constructor` or `__proto__` is as unknown a field as any other.
  for (const key of Object.keys(body)) if (!Object.hasOwn(spec, key)) errors.push({ field: key, message: 'is not a field of this request' });
  for (const [key, kind] of Object.entries(spec)) {
    const value = (body as Record<string, unknown>)[key];
    if (value === undefined) {
      if (kind !== 'optional-string') errors.push({ field: key, message: 'is required' });
      continue;
    }
    if (kind === 'amount') {
      // Money is a JSON integer of minor units: not a string, not a fraction, not 0, exact.
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > MAX_JSON_AMOUNT) errors.push({ field: key, message: `must be an integer from 1 to ${MAX_JSON_AMOUNT} (minor units)` });
      else out[key] = BigInt(value);
      continue;
    }
    if (typeof value !== 'string') errors.push({ field: key, message: 'must be a string' });
    else if (value.length > MAX_STRING_FIELD) errors.push({ field: key, message: `must be at most ${MAX_STRING_FIELD} characters` });
    else out[key] = value;
  }
  if (errors.length > 0) throw new ProblemError('VALIDATION_FAILED', 'the request body is invalid', errors);
  return out as { [K in keyof S]: Out<S[K]> };
}

/** A path id must be a UUID: a malformed one is 400, before anything looks it up. */
export function pathId(req: Request, name = 'id'): string {
  const value = req.params[name];
  if (!isUuid(value)) throw new ProblemError('VALIDATION_FAILED', `${name} must be a UUID`, [{ field: name, message: 'must be a UUID' }]);
  return value.toLowerCase();
}

/** A required id in the query string (`?accountId=`): a missing or malformed one is 400. */
export function queryId(req: Request, name: string): string {
  const value = req.query[name];
  if (!isUuid(value)) throw new ProblemError('VALIDATION_FAILED', `${name} must be a UUID`, [{ field: name, message: 'required: a UUID' }]);
  return value;
}

/** `?limit=1..100` (default 20) and `?cursor=` of every list. */
export function pageQuery(req: Request, maxLimit = 100, defaultLimit = 20): { limit: number; cursor: string } {
  const raw = req.query.limit;
  let limit = defaultLimit;
  if (raw !== undefined) {
    if (typeof raw !== 'string' || !/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > maxLimit) {
      throw new ProblemError('VALIDATION_FAILED', `limit must be 1 to ${maxLimit}`, [{ field: 'limit', message: `must be 1 to ${maxLimit}` }]);
    }
    limit = Number(raw);
  }
  const cursor = typeof req.query.cursor === 'string' ? req.query.cursor : '';
  return { limit, cursor };
}
