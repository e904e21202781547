import { AccountFlags } from '@bank/ledger-core';
import type { PostgresLedgerStore } from '@bank/ledger-postgres';
import type { EventHandlers } from '@bank/platform';

/**
 * user-service's account events keep the ledger's accounts in step. Each runs in the consumer's
 * transaction with its inbox row; state changes carry the event's per-account sequence so that
 * a late redelivery of an older event never undoes a newer one.
 */
export function accountEventHandlers(store: PostgresLedgerStore): EventHandlers {
  const setState = (state: 'active' | 'frozen' | 'closed') => async (p: { accountId: string }, envelope: { sequence: number }, client: Parameters<PostgresLedgerStore['setAccountStateIn']>[0]) => {
    // The account may not exist yet when events overtake each other: failing makes the queue retry.
    if (!(await store.setAccountStateIn(client, p.accountId, state, BigInt(envelope.sequence)))) throw new Error(`ledger account ${p.accountId} not found yet`);
  };
  return {
    'account.opened': async (p, envelope, client) => {
      const [result] = await store.createAccountsIn(
        client,
        [{ id: p.accountId, currency: p.currency, kind: 'customer', flags: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, overdraftLimit: 0n, ownerId: p.ownerId }],
        new Date(envelope.occurredAt),
      );
      if (result !== 'ok' && result !== 'exists') throw new Error(`account.opened ${p.accountId} could not be applied: ${result}`);
    },
    'account.frozen': setState('frozen'),
    'account.unfrozen': setState('active'),
    'account.closed': setState('closed'),
  };
}
