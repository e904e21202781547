import { ledgerV1, userV1 } from '@bank/contracts';
import { depositReference, paymentReference, type Currency } from '@bank/kernel';
import { TransferFlags, systemAccountId } from '@bank/ledger-core';
import { type AccountInfo, type Deposit, type LedgerResult, type Payment, type PaymentLedger } from '@bank/payments-core';
import { GrpcCaller, RemoteCallError, createClient, type WorkloadIdentity } from '@bank/platform';

/** A saga step waits this long for the ledger; a slower ledger counts as unreachable and the step is retried. */
export const LEDGER_STEP_TIMEOUT_MS = 5_000;
/** An account lookup in user-service (a projection miss) waits this long. */
export const ACCOUNT_LOOKUP_TIMEOUT_MS = 3_000;
const RESULT_PREFIX = 'CREATE_TRANSFER_RESULT_';
/** The barrier's hold is the smallest amount: it is voided in the same linked pair. */
const BARRIER_AMOUNT = 1n;

const resultName = (r: ledgerV1.CreateTransferResult): LedgerResult => ledgerV1.createTransferResultToJSON(r).replace(RESULT_PREFIX, '').toLowerCase();

const transfer = (t: Partial<ledgerV1.Transfer>): ledgerV1.Transfer => ledgerV1.Transfer.fromPartial(t);

/**
 * The saga's steps as CreateTransfers calls, one transfer each: the ledger's batcher coalesces
 * the calls of many concurrent sagas into few database transactions.
 */
export class GrpcPaymentLedger implements PaymentLedger {
  private readonly client: ledgerV1.LedgerServiceClient;
  private readonly caller: GrpcCaller;

  constructor(address: string, identity: WorkloadIdentity) {
    this.client = createClient(ledgerV1.LedgerServiceClient, address, identity);
    this.caller = new GrpcCaller();
  }

  private async send(transfers: ledgerV1.Transfer[]): Promise<LedgerResult[]> {
    const res = await this.caller.unary<ledgerV1.CreateTransfersResponse>((md, o, cb) => this.client.createTransfers({ transfers }, md, o, cb), { timeoutMs: LEDGER_STEP_TIMEOUT_MS });
    return res.outcomes.map((o) => resultName(o.result));
  }

  async hold(p: Payment, holdId: string, timeoutSeconds: number): Promise<LedgerResult> {
    const [r] = await this.send([
      transfer({ id: holdId, debitAccountId: p.sourceAccountId, creditAccountId: p.destinationAccountId, amount: p.amount, currency: p.currency, flags: TransferFlags.PENDING, timeoutSeconds, reference: paymentReference(p.id), description: p.description }),
    ]);
    return r as LedgerResult;
  }

  async capture(p: Payment, captureId: string, holdId: string): Promise<LedgerResult> {
    const [r] = await this.send([transfer({ id: captureId, pendingId: holdId, flags: TransferFlags.POST_PENDING, reference: paymentReference(p.id), description: p.description })]);
    return r as LedgerResult;
  }

  async void(p: Payment, voidId: string, holdId: string): Promise<LedgerResult> {
    const [r] = await this.send([transfer({ id: voidId, pendingId: holdId, flags: TransferFlags.VOID_PENDING, reference: paymentReference(p.id), description: p.description })]);
    return r as LedgerResult;
  }

  async barrier(p: Payment, holdId: string, voidId: string): Promise<[LedgerResult, LedgerResult]> {
    const currency = p.currency as Currency;
    const [hold, release] = await this.send([
      transfer({
        id: holdId,
        debitAccountId: systemAccountId(currency, 'settlement'),
        creditAccountId: systemAccountId(currency, 'suspense'),
        amount: BARRIER_AMOUNT,
        currency,
        flags: TransferFlags.PENDING | TransferFlags.LINKED,
        reference: `${paymentReference(p.id)}:barrier`,
      }),
      transfer({ id: voidId, pendingId: holdId, flags: TransferFlags.VOID_PENDING, reference: `${paymentReference(p.id)}:barrier` }),
    ]);
    return [hold as LedgerResult, release as LedgerResult];
  }

  async deposit(d: Deposit, transferId: string): Promise<LedgerResult> {
    const [r] = await this.send([
      transfer({ id: transferId, debitAccountId: systemAccountId(d.currency, 'settlement'), creditAccountId: d.accountId, amount: d.amount, currency: d.currency, reference: depositReference(d.id), description: d.reference }),
    ]);
    return r as LedgerResult;
  }

  close(): void {
    this.client.close();
  }
}

const STATE_OF_STATUS: Partial<Record<userV1.BankAccountStatus, AccountInfo['state']>> = {
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_ACTIVE]: 'active',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_FROZEN]: 'frozen',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_CLOSED]: 'closed',
};

/** An account the projection does not have yet, asked of user-service (with the service's operator view). */
export class UserServiceAccounts {
  private readonly client: userV1.UserServiceClient;
  private readonly caller: GrpcCaller;

  constructor(address: string, identity: WorkloadIdentity) {
    this.client = createClient(userV1.UserServiceClient, address, identity);
    this.caller = new GrpcCaller();
  }

  readonly find = async (id: string): Promise<AccountInfo | undefined> => {
    try {
      // On payment-service's own account: user-service grants it the operator's view by its certificate (contracts' trust.ts).
      const a = await this.caller.unary<userV1.BankAccount>((md, o, cb) => this.client.getAccount({ accountId: id }, md, o, cb), { timeoutMs: ACCOUNT_LOOKUP_TIMEOUT_MS });
      const state = STATE_OF_STATUS[a.status];
      return state ? { id: a.id, ownerId: a.ownerId, currency: a.currency, state } : undefined;
    } catch (e) {
      if (e instanceof RemoteCallError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  };

  close(): void {
    this.client.close();
  }
}
