import { ledgerV1 } from '@bank/contracts';
import type { LedgerBalance, LedgerBalances } from '@bank/accounts-core';
import { GrpcCaller, createClient, type WorkloadIdentity } from '@bank/platform';

/** Balance look-ups are quick; a ledger slower than this is treated as unavailable. */
export const LEDGER_LOOKUP_TIMEOUT_MS = 3_000;

/** The ledger's view of an account's money, over gRPC: posted balance and holds on either side. */
export class GrpcLedgerBalances implements LedgerBalances {
  private readonly client: ledgerV1.LedgerServiceClient;
  private readonly caller: GrpcCaller;

  constructor(address: string, identity: WorkloadIdentity) {
    this.client = createClient(ledgerV1.LedgerServiceClient, address, identity);
    this.caller = new GrpcCaller();
  }

  async balanceOf(accountId: string): Promise<LedgerBalance | undefined> {
    const res = await this.caller.unary<ledgerV1.LookupAccountsResponse>((md, o, cb) => this.client.lookupAccounts({ ids: [accountId] }, md, o, cb), {
      timeoutMs: LEDGER_LOOKUP_TIMEOUT_MS,
    });
    const a = res.accounts[0];
    if (!a) return undefined;
    // The ledger computes the balance; one that sends none (older than the field) must not read as empty.
    if (!a.balance) throw new Error(`the ledger sent account ${accountId} without its balance`);
    return { posted: a.balance.posted, pending: a.balance.pending, incoming: a.balance.incoming };
  }

  close(): void {
    this.client.close();
  }
}
