import { authV1, ledgerV1, paymentV1, userV1 } from '@bank/contracts';
import { GrpcCaller, createClient, type CallOptions, type UnaryInvoker, type WorkloadIdentity } from '@bank/platform';
import type { AuthenticatedCaller } from './http/auth-token';

/** Every internal call of a request has this long; the HTTP request itself has its own timeouts. */
export const PEER_CALL_TIMEOUT_MS = 5_000;

/** The gateway's gRPC clients, with the caller's access token and the request id on every call. */
export class Peers {
  readonly auth: authV1.AuthServiceClient;
  readonly user: userV1.UserServiceClient;
  readonly ledger: ledgerV1.LedgerServiceClient;
  readonly payment: paymentV1.PaymentServiceClient;
  private readonly caller: GrpcCaller;

  constructor(addresses: { auth: string; user: string; ledger: string; payment: string }, identity: WorkloadIdentity) {
    this.auth = createClient(authV1.AuthServiceClient, addresses.auth, identity);
    this.user = createClient(userV1.UserServiceClient, addresses.user, identity);
    this.ledger = createClient(ledgerV1.LedgerServiceClient, addresses.ledger, identity);
    this.payment = createClient(paymentV1.PaymentServiceClient, addresses.payment, identity);
    this.caller = new GrpcCaller();
  }

  /** `timeoutMs`: longer than the default for a call that waits on purpose (Prefer: wait). */
  call<Res>(invoke: UnaryInvoker<Res>, who?: AuthenticatedCaller, requestId?: string, timeoutMs = PEER_CALL_TIMEOUT_MS): Promise<Res> {
    const opts: CallOptions = { timeoutMs, requestId, accessToken: who?.accessToken };
    return this.caller.unary<Res>(invoke, opts);
  }

  close(): void {
    this.auth.close();
    this.user.close();
    this.ledger.close();
    this.payment.close();
  }
}
