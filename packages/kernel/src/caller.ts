/** Who is calling, as the gateway authenticated them. */
export interface Caller {
  readonly userId: string | undefined;
  readonly roles: readonly string[];
}

import { DomainError } from './errors';

/** The authenticated user's id; a call without one is refused. */
export function requireUser(caller: Caller): string {
  if (!caller.userId) throw new DomainError('UNAUTHENTICATED', 'no authenticated caller');
  return caller.userId;
}

/** The roles a user can hold; every user is a customer, and operators and admins are staff. */
export const ROLES = ['customer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
const STAFF_ROLES: readonly Role[] = ['operator', 'admin'];

/** Operators and admins may act on any customer's accounts and payments. */
export const isOperator = (c: Caller): boolean => c.roles.some((r) => (STAFF_ROLES as readonly string[]).includes(r));

/**
 * Who is recorded as acting when an operator works through bank-cli rather than as a signed-in
 * user: an operator's tool holds an operator's grant but no user id. Which person it was is in
 * the service's operator audit (who, why, the command), written by bank-cli for that act.
 */
export const OPERATOR_TOOL_ACTOR_ID = '00000000-0000-0000-0000-000000000000';

/** The authenticated user's id, or for an operator's own call (bank-cli) OPERATOR_TOOL_ACTOR_ID; anyone else is refused. */
export function requireActor(caller: Caller): string {
  if (caller.userId) return caller.userId;
  if (isOperator(caller)) return OPERATOR_TOOL_ACTOR_ID;
  throw new DomainError('UNAUTHENTICATED', 'no authenticated caller');
}
