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
