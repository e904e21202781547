import { InvariantViolation } from '@bank/kernel';
import { wakeUp, type EventHandlers } from './inbox';
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

  it("holds wake-ups to the catalogue's WAKE_UP_EVENTS: an inbox-less handler where an inbox row is due, or the reverse, is refused", () => {
    const payments = (transfers: 'wake' | 'inbox'): EventHandlers => {
      const transfer = transfers === 'wake' ? { 'transfer.posted': wakeUp(() => undefined), 'transfer.pending': wakeUp(() => undefined), 'transfer.voided': wakeUp(() => undefined), 'transfer.expired': wakeUp(() => undefined) } : { 'transfer.posted': noop, 'transfer.pending': noop, 'transfer.voided': noop, 'transfer.expired': noop };
      return { 'account.opened': noop, 'account.frozen': noop, 'account.unfrozen': noop, 'account.closed': noop, 'payment.requested': wakeUp(() => undefined), ...transfer };
    };
    expect(() => checkEventRouting('payment-service', payments('wake'))).not.toThrow();
    expect(() => checkEventRouting('payment-service', payments('inbox'))).toThrow(/wake-ups/);
    expect(() => checkEventRouting('transaction-service', { 'account.opened': wakeUp(() => undefined), 'account.frozen': noop, 'account.unfrozen': noop, 'account.closed': noop })).toThrow(/account\.opened/);
  });

  it('refuses a service without a consumer when the catalogue routes events to it, and accepts one nothing is routed to', () => {
    expect(() => checkEventRouting('user-service', undefined)).toThrow(InvariantViolation);
    expect(() => checkEventRouting('auth-service', undefined)).not.toThrow();
  });
});
