import type { Ledger } from '@bank/ledger-core';
import type { EventHandlers, Persistence } from '@bank/platform';

/** The ledger's account use cases on a store that joins `tx`. */
export type LedgerIn = (tx: Persistence) => Pick<Ledger, 'openCustomerAccount' | 'setAccountState'>;

/**
 * user-service's account events keep the ledger's accounts in step, through the ledger's own use
 * cases on a store built on the consumer's transaction, so the account change and the event's
 * inbox row commit together. State changes carry the event's per-account sequence so that a late
 * redelivery of an older event never undoes a newer one.
 */
export function accountEventHandlers(ledgerIn: LedgerIn): EventHandlers {
  const setState = (state: 'active' | 'frozen' | 'closed') => async (p: { accountId: string }, envelope: { sequence: number }, tx: Persistence) => {
    // The account may not exist yet when events overtake each other: failing makes the queue retry.
    if (!(await ledgerIn(tx).setAccountState(p.accountId, state, BigInt(envelope.sequence)))) throw new Error(`ledger account ${p.accountId} not found yet`);
  };
  return {
    'account.opened': async (p, _e, tx) => {
      const result = await ledgerIn(tx).openCustomerAccount(p.accountId, p.currency, p.ownerId);
      if (result !== 'ok' && result !== 'exists') throw new Error(`account.opened ${p.accountId} could not be applied: ${result}`);
    },
    'account.frozen': setState('frozen'),
    'account.unfrozen': setState('active'),
    'account.closed': setState('closed'),
  };
}
