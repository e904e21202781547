/** Who is calling, as the gateway authenticated them. */
export interface Caller {
  readonly userId: string | undefined;
  readonly roles: readonly string[];
}

/** Operators and admins may act on any customer's accounts and payments. */
export const isOperator = (c: Caller): boolean => c.roles.includes('operator') || c.roles.includes('admin');
