import { ledgerV1 } from '@bank/contracts';
import { DomainError, fieldError } from '@bank/kernel';
import { LEDGER_NOT_ACTIVE, accountBalance, type AccountKind, type AccountState, type Ledger, type LedgerAccount, type StatementLine, type Transfer, type TransferRequest, type TransferStatus } from '@bank/ledger-core';
import { implement, type Logger, type ServiceBinding } from '@bank/platform';
import { authorizeTransfers } from './authorize';

const KIND_TO_PROTO: Record<AccountKind, ledgerV1.AccountKind> = {
  customer: ledgerV1.AccountKind.ACCOUNT_KIND_CUSTOMER,
  settlement: ledgerV1.AccountKind.ACCOUNT_KIND_SETTLEMENT,
  fees: ledgerV1.AccountKind.ACCOUNT_KIND_FEES,
  suspense: ledgerV1.AccountKind.ACCOUNT_KIND_SUSPENSE,
};
const KIND_FROM_PROTO = new Map(Object.entries(KIND_TO_PROTO).map(([k, v]) => [v, k as AccountKind]));
const STATE_TO_PROTO: Record<AccountState, ledgerV1.AccountState> = {
  active: ledgerV1.AccountState.ACCOUNT_STATE_ACTIVE,
  frozen: ledgerV1.AccountState.ACCOUNT_STATE_FROZEN,
  closed: ledgerV1.AccountState.ACCOUNT_STATE_CLOSED,
};
const STATUS_TO_PROTO: Record<TransferStatus, ledgerV1.TransferStatus> = {
  posted: ledgerV1.TransferStatus.TRANSFER_STATUS_POSTED,
  pending: ledgerV1.TransferStatus.TRANSFER_STATUS_PENDING,
  voided: ledgerV1.TransferStatus.TRANSFER_STATUS_VOIDED,
  expired: ledgerV1.TransferStatus.TRANSFER_STATUS_EXPIRED,
};
const LINE_STATUS_TO_PROTO = {
  pending: ledgerV1.EntryStatus.ENTRY_STATUS_PENDING,
  posted: ledgerV1.EntryStatus.ENTRY_STATUS_POSTED,
  voided: ledgerV1.EntryStatus.ENTRY_STATUS_VOIDED,
} as const;

/**
 * The core's result codes and the proto enums share names: `exceeds_credits` is
 * CREATE_TRANSFER_RESULT_EXCEEDS_CREDITS. A code without a proto value is a bug, so it throws.
 */
function byName<E extends number>(fromJSON: (name: string) => E, prefix: string, unrecognized: E): (result: string) => E {
  return (result) => {
    const value = fromJSON(`${prefix}${result.toUpperCase()}`);
    if (value === unrecognized) throw new Error(`no proto value for result ${result}`);
    return value;
  };
}

const transferResultToProto = byName(ledgerV1.createTransferResultFromJSON, 'CREATE_TRANSFER_RESULT_', ledgerV1.CreateTransferResult.UNRECOGNIZED);
const accountResultByName = byName(ledgerV1.createAccountResultFromJSON, 'CREATE_ACCOUNT_RESULT_', ledgerV1.CreateAccountResult.UNRECOGNIZED);

function accountResultToProto(result: string): ledgerV1.CreateAccountResult {
  // invalid_id has no proto value of its own: an id that is not a UUID is invalid input.
  if (result === 'invalid_id') throw fieldError('VALIDATION_FAILED', 'accounts.id', 'must be a UUID');
  return accountResultByName(result);
}

export function accountToProto(a: LedgerAccount): ledgerV1.Account {
  return {
    id: a.id,
    currency: a.currency,
    kind: KIND_TO_PROTO[a.kind],
    state: STATE_TO_PROTO[a.state],
    flags: a.flags,
    overdraftLimit: a.overdraftLimit,
    debitsPosted: a.debitsPosted,
    creditsPosted: a.creditsPosted,
    debitsPending: a.debitsPending,
    creditsPending: a.creditsPending,
    ownerId: a.ownerId ?? '',
    createdAt: a.createdAt,
    balance: accountBalance(a),
  };
}

function transferToProto(t: Transfer): ledgerV1.Transfer {
  return {
    id: t.id,
    debitAccountId: t.debitAccountId,
    creditAccountId: t.creditAccountId,
    amount: t.amount,
    currency: t.currency,
    flags: t.flags,
    pendingId: t.pendingId ?? '',
    timeoutSeconds: t.timeoutSeconds,
    reference: t.reference,
    description: t.description,
    createdAt: t.createdAt,
  };
}

export function transferFromProto(t: ledgerV1.Transfer): TransferRequest {
  return {
    id: t.id,
    debitAccountId: t.debitAccountId,
    creditAccountId: t.creditAccountId,
    amount: t.amount,
    currency: t.currency,
    flags: t.flags,
    pendingId: t.pendingId,
    timeoutSeconds: t.timeoutSeconds,
    reference: t.reference,
    description: t.description,
  };
}

function lineToProto(l: StatementLine): ledgerV1.StatementEntry {
  return {
    // A line keeps its id from hold to capture: the hold's transfer id and the account's side.
    id: `${l.transferId}:${l.side === 'debit' ? 'D' : 'C'}`,
    transferId: l.transferId,
    reference: l.reference,
    direction: l.side === 'debit' ? ledgerV1.EntryDirection.ENTRY_DIRECTION_DEBIT : ledgerV1.EntryDirection.ENTRY_DIRECTION_CREDIT,
    amount: l.amount,
    currency: l.currency,
    balanceAfter: l.balanceAfter,
    status: LINE_STATUS_TO_PROTO[l.status],
    description: l.description,
    createdAt: l.createdAt,
    sequence: l.sequence,
  };
}

/** One ExpireDueHolds call voids at most this many batches; a larger backlog is the sweeper's, or another call's. */
export const MAX_EXPIRY_BATCHES_PER_CALL = 100;

/** The LedgerService gRPC adapter: translation only, every decision is the core's. */
/**
 * The LedgerService. `isActive`: whether this process holds the writer's lease; a standby (or a
 * former writer) refuses every call with LEDGER_NOT_ACTIVE (UNAVAILABLE), so callers go to the
 * active one, and reads cannot be served from a process that may be behind.
 */
export function ledgerGrpcService(ledger: Ledger, opts: { logger: Logger; isActive: () => boolean }): ServiceBinding {
  return implement(
    ledgerV1.LedgerServiceService,
    onlyWhenActive(opts.isActive, {
      createAccounts: async (req) => {
        const results = await ledger.createAccounts(
          req.accounts.map((a) => {
            const kind = KIND_FROM_PROTO.get(a.kind);
            if (!kind) throw fieldError('VALIDATION_FAILED', 'accounts.kind', 'must be set');
            return { id: a.id, currency: a.currency, kind, flags: a.flags, overdraftLimit: a.overdraftLimit, ownerId: a.ownerId === '' ? null : a.ownerId };
          }),
        );
        return { results: results.map(accountResultToProto) };
      },
      createTransfers: async (req, ctx) => {
        const transfers = req.transfers.map(transferFromProto);
        authorizeTransfers(ctx.caller, transfers);
        const results = await ledger.createTransfers(transfers);
        return { outcomes: results.map((r, index) => ({ index, id: req.transfers[index]?.id ?? '', result: transferResultToProto(r) })) };
      },
      lookupAccounts: async (req) => ({ accounts: (await ledger.lookupAccounts(req.ids)).map(accountToProto) }),
      getTransfer: async (req) => {
        const view = await ledger.getTransfer(req.id);
        return { transfer: transferToProto(view.transfer), status: STATUS_TO_PROTO[view.status], postedAmount: view.postedAmount };
      },
      getStatement: async (req) => {
        const page = await ledger.statement(req.accountId, req.limit, req.cursor);
        return { entries: page.lines.map(lineToProto), nextCursor: page.nextCursor };
      },
      getBalanceAt: async (req) => {
        if (!req.at) throw fieldError('VALIDATION_FAILED', 'at', 'required');
        return ledger.balanceAt(req.accountId, req.at);
      },
      // What the sweeper does on its next round, now.
      expireDueHolds: async () => ({ expired: await ledger.expireAllDueHolds(MAX_EXPIRY_BATCHES_PER_CALL) }),
      verifyInvariants: async () => {
        const report = await ledger.verify();
        return {
          ok: report.violations.length === 0,
          violations: report.violations,
          accountsChecked: BigInt(report.accountsChecked),
          transfersChecked: BigInt(report.transfersChecked),
        };
      },
    }),
    { logger: opts.logger },
  );
}

function onlyWhenActive<H extends Record<string, (req: never, ctx: never) => Promise<unknown>>>(isActive: () => boolean, handlers: H): H {
  const refuse = () => new DomainError(LEDGER_NOT_ACTIVE, 'this transaction-service is a standby: the ledger is written by the one holding the lease');
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handle]) => [
      name,
      (req: never, ctx: never) => {
        if (!isActive()) return Promise.reject(refuse());
        return handle(req, ctx);
      },
    ]),
  ) as H;
}
