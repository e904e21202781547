import { ledgerV1 } from '@bank/contracts';
import { GrpcCaller, createClient, type WorkloadIdentity } from '@bank/platform';

/** Deadline of one CreateTransfers call made by tests and the benchmark. */
export const CLIENT_TIMEOUT_MS = 30_000;

/** A thin promise-based LedgerService client, for tests, the benchmark and operator tooling. */
export class LedgerClient {
  private readonly client: ledgerV1.LedgerServiceClient;
  private readonly caller: GrpcCaller;

  constructor(address: string, identity: WorkloadIdentity) {
    this.client = createClient(ledgerV1.LedgerServiceClient, address, identity);
    this.caller = new GrpcCaller();
  }

  createTransfers(transfers: Partial<ledgerV1.Transfer>[], timeoutMs = CLIENT_TIMEOUT_MS): Promise<ledgerV1.CreateTransfersResponse> {
    const request = ledgerV1.CreateTransfersRequest.fromPartial({ transfers });
    return this.caller.unary((md, o, cb) => this.client.createTransfers(request, md, o, cb), { timeoutMs });
  }

  createAccounts(accounts: Partial<ledgerV1.NewAccount>[]): Promise<ledgerV1.CreateAccountsResponse> {
    const request = ledgerV1.CreateAccountsRequest.fromPartial({ accounts });
    return this.caller.unary((md, o, cb) => this.client.createAccounts(request, md, o, cb), { timeoutMs: CLIENT_TIMEOUT_MS });
  }

  lookupAccounts(ids: string[]): Promise<ledgerV1.LookupAccountsResponse> {
    return this.caller.unary((md, o, cb) => this.client.lookupAccounts({ ids }, md, o, cb), { timeoutMs: CLIENT_TIMEOUT_MS });
  }

  getTransfer(id: string): Promise<ledgerV1.GetTransferResponse> {
    return this.caller.unary((md, o, cb) => this.client.getTransfer({ id }, md, o, cb), { timeoutMs: CLIENT_TIMEOUT_MS });
  }

  getStatement(accountId: string, limit = 0, cursor = ''): Promise<ledgerV1.GetStatementResponse> {
    return this.caller.unary((md, o, cb) => this.client.getStatement({ accountId, limit, cursor }, md, o, cb), { timeoutMs: CLIENT_TIMEOUT_MS });
  }

  verify(timeoutMs = 120_000): Promise<ledgerV1.VerifyInvariantsResponse> {
    return this.caller.unary((md, o, cb) => this.client.verifyInvariants({}, md, o, cb), { timeoutMs });
  }

  close(): void {
    this.client.close();
  }
}

export const resultName = (r: ledgerV1.CreateTransferResult): string => ledgerV1.createTransferResultToJSON(r).replace('CREATE_TRANSFER_RESULT_', '').toLowerCase();
