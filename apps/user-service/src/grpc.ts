import { userV1 } from '@bank/contracts';
import type { Accounts, BankAccount, Profile } from '@bank/accounts-core';
import { callerOf, implement, type Logger, type ServiceBinding, type TokenVerifier } from '@bank/platform';

const STATUS: Record<BankAccount['status'], userV1.BankAccountStatus> = {
  active: userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_ACTIVE,
  frozen: userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_FROZEN,
  closed: userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_CLOSED,
};


export function accountToProto(a: BankAccount): userV1.BankAccount {
  return { id: a.id, ownerId: a.ownerId, currency: a.currency, status: STATUS[a.status], createdAt: a.createdAt };
}

function profileToProto(p: Profile, roles: readonly string[]): userV1.Profile {
  return { id: p.id, email: p.email, fullName: p.fullName, phone: p.phone, roles: [...roles], createdAt: p.createdAt };
}

/** UserService over gRPC. The caller is the user whose access token the gateway forwarded, verified here; never a request field. */
export function userGrpcService(accounts: Accounts, opts: { logger: Logger; verifier: TokenVerifier }): ServiceBinding {
  return implement(
    userV1.UserServiceService,
    {
      getProfile: async (req, ctx) => {
        const caller = await callerOf(ctx);
        const p = await accounts.profile(caller, req.userId);
        return profileToProto(p, p.id === caller.userId ? caller.roles : []);
      },
      updateProfile: async (req, ctx) => {
        const caller = await callerOf(ctx);
        // Empty means unchanged (proto3 strings have no "absent").
        const p = await accounts.updateProfile(caller, { fullName: req.fullName === '' ? undefined : req.fullName, phone: req.phone === '' ? undefined : req.phone });
        return profileToProto(p, caller.roles);
      },
      openAccount: async (req, ctx) => {
        const opened = await accounts.open(await callerOf(ctx), req.currency, req.idempotencyKey, ctx.traceparent, req.ownerId);
        return { account: accountToProto(opened.account), replayed: opened.replayed };
      },
      getAccount: async (req, ctx) => accountToProto(await accounts.get(await callerOf(ctx), req.accountId)),
      listAccounts: async (req, ctx) => {
        const page = await accounts.list(await callerOf(ctx), req.ownerId, req.limit, req.cursor);
        return { accounts: page.accounts.map(accountToProto), nextCursor: page.nextCursor };
      },
      freezeAccount: async (req, ctx) => accountToProto(await accounts.freeze(await callerOf(ctx), req.accountId, req.reason, ctx.traceparent)),
      unfreezeAccount: async (req, ctx) => accountToProto(await accounts.unfreeze(await callerOf(ctx), req.accountId, ctx.traceparent)),
      closeAccount: async (req, ctx) => accountToProto(await accounts.close(await callerOf(ctx), req.accountId, ctx.traceparent)),
    },
    opts,
  );
}
