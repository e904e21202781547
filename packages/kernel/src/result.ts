/** A typed outcome: expected business failures travel as values, with a stable code, not as exceptions. */
export type Result<T, E extends string = string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: E; readonly message: string };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function fail<E extends string>(code: E, message: string = code): { readonly ok: false; readonly code: E; readonly message: string } {
  return { ok: false, code, message };
}
