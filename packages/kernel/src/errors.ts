/**
 * An expected business outcome that a caller can act on, with a stable machine code. Adapters map
 * the code to a transport status in one table each (gRPC status, HTTP problem+json).
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** A broken invariant: a bug, never a business outcome. It crashes the request that met it. */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

/** A validation outcome naming the field at fault, as every adapter reports it (`fields`). */
export function fieldError(code: string, field: string, message: string): DomainError {
  return new DomainError(code, `${field}: ${message}`, { fields: [{ field, message }] });
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}
