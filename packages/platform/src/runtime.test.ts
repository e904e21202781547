import { InvariantViolation } from '@bank/kernel';
import type { EventHandlers } from './inbox';
import { checkEventRouting } from './runtime';

const noop = async () => undefined;

describe('checkEventRouting: every queue has a consumer or receives nothing', () => {
  it('accepts a consumer that handles exactly the types routed to it', () => {
    const handlers: EventHandlers = { 'account.opened': noop, 'account.frozen': noop, 'account.unfrozen': noop, 'account.closed': noop };
    expect(() => checkEventRouting('transaction-service', handlers)).not.toThrow();
  });

  it('refuses a consumer that misses a routed type, or handles one that is never routed to it', () => {
    expect(() => checkEventRouting('transaction-service', { 'account.opened': noop })).toThrow(InvariantViolation);
    expect(() => checkEventRouting('user-service', { 'user.registered': noop, 'payment.completed': noop })).toThrow(/routes \[user\.registered\]/);
  });

  it('refuses a service without a consumer when the catalogue routes events to it, and accepts one nothing is routed to', () => {
    expect(() => checkEventRouting('user-service', undefined)).toThrow(InvariantViolation);
    expect(() => checkEventRouting('auth-service', undefined)).not.toThrow();
  });
});
