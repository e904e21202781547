import type { Ledger } from '@bank/ledger-core';
import type { EventHandlers } from '@bank/platform';

/**
 * user-service's account events keep the ledger's accounts in step, through the ledger's own use
 * cases: each runs in the consumer's transaction, which the store joins, so the account change
 * and the event's inbox row commit together. State changes carry the event's per-account sequence
 * so that a late redelivery of an older event never undoes a newer one.
 */
export function accountEventHandlers(ledger: Pick<Ledger, 'openCustomerAccount' | 'setAccountState'>): EventHandlers {
  const setState = (state: 'active' | 'frozen' | 'closed') => async (p: { accountId: string }, envelope: { sequence: number }) => {
    // The account may not exist yet when events overtake each other: failing makes the queue retry.
    if (!(await ledger.setAccountState(p.accountId, state, BigInt(envelope.sequence)))) throw new Error(`ledger account ${p.accountId} not found yet`);
  };
  return {
    'account.opened': async (p) => {
      const result = await ledger.openCustomerAccount(p.accountId, p.currency, p.ownerId);
      if (result !== 'ok' && result !== 'exists') throw new Error(`account.opened ${p.accountId} could not be applied: ${result}`);
    },
    'account.frozen': setState('frozen'),
    'account.unfrozen': setState('active'),
    'account.closed': setState('closed'),
  };
}
