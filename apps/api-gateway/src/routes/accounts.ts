import type { Response, Router } from 'express';
import type { ledgerV1, userV1 } from '@bank/contracts';
import { RemoteCallError } from '@bank/platform';
import type { TokenVerifier } from '@bank/platform';
import { callerOf, type AuthenticatedCaller } from '../http/auth-token';
import { serve } from '../http/input';
import { OPERATIONS } from '../http/operations';
import { requestIdOf } from '../http/request-id';
import type { Peers } from '../peers';
import { accountView, entryView, profileView } from './views';

/** A profile is created from user.registered a moment after signup; GET /me waits that long for it. */
export const PROFILE_WAIT_MS = 3_000;
const PROFILE_POLL_MS = 100;

/** /v1/me, /v1/accounts and /v1/admin/accounts: user-service for the account, the ledger for money. */
export function accountRoutes(router: Router, peers: Peers, verifier: TokenVerifier): void {
  const ledgerAccount = async (id: string, who: AuthenticatedCaller, rid: string) =>
    (await peers.call<ledgerV1.LookupAccountsResponse>((md, o, cb) => peers.ledger.lookupAccounts({ ids: [id] }, md, o, cb), who, rid)).accounts[0];
  const view = async (a: userV1.BankAccount, who: AuthenticatedCaller, rid: string) => accountView(a, await ledgerAccount(a.id, who, rid));
  const getAccount = (id: string, who: AuthenticatedCaller, rid: string) => peers.call<userV1.BankAccount>((md, o, cb) => peers.user.getAccount({ accountId: id }, md, o, cb), who, rid);

  serve(router, OPERATIONS.getMe, verifier, async (_input, res) => {
    const who = callerOf(res);
    const until = Date.now() + PROFILE_WAIT_MS;
    for (;;) {
      try {
        const p = await peers.call<userV1.Profile>((md, o, cb) => peers.user.getProfile({ userId: '' }, md, o, cb), who, requestIdOf(res));
        res.json(profileView(p, who.roles));
        return;
      } catch (e) {
        if (!(e instanceof RemoteCallError && e.code === 'NOT_FOUND') || Date.now() > until) throw e;
        await new Promise((r) => setTimeout(r, PROFILE_POLL_MS));
      }
    }
  });
  serve(router, OPERATIONS.updateMe, verifier, async ({ body }, res) => {
    const who = callerOf(res);
    const p = await peers.call<userV1.Profile>((md, o, cb) => peers.user.updateProfile({ userId: '', fullName: body.fullName ?? '', phone: body.phone ?? '' }, md, o, cb), who, requestIdOf(res));
    res.json(profileView(p, who.roles));
  });

  serve(router, OPERATIONS.openAccount, verifier, async ({ body, idempotencyKey }, res) => {
    const who = callerOf(res);
    // user-service keeps keys per owner, so the key goes as the client sent it.
    const opened = await peers.call<userV1.OpenAccountResponse>((md, o, cb) => peers.user.openAccount({ ownerId: '', currency: body.currency, idempotencyKey: idempotencyKey ?? '' }, md, o, cb), who, requestIdOf(res));
    if (opened.replayed) res.setHeader('Idempotent-Replayed', 'true');
    // Opening depends on user-service alone: the ledger learns of the account through the outbox
    // (it cannot have it yet, and may be down), so the new account shows a zero balance.
    res.status(201).json(accountView(opened.account as userV1.BankAccount, undefined));
  });
  serve(router, OPERATIONS.listAccounts, verifier, async ({ query }, res) => {
    const who = callerOf(res);
    const rid = requestIdOf(res);
    const page = await peers.call<userV1.ListAccountsResponse>((md, o, cb) => peers.user.listAccounts({ ownerId: '', limit: query.limit, cursor: query.cursor ?? '' }, md, o, cb), who, rid);
    const ids = page.accounts.map((a) => a.id);
    const balances = ids.length > 0 ? (await peers.call<ledgerV1.LookupAccountsResponse>((md, o, cb) => peers.ledger.lookupAccounts({ ids }, md, o, cb), who, rid)).accounts : [];
    const byId = new Map(balances.map((b) => [b.id, b]));
    res.json({ data: page.accounts.map((a) => accountView(a, byId.get(a.id))), nextCursor: page.nextCursor || null });
  });
  // One account as its reader may see it: user-service decides whether they may (owner or operator).
  const showAccount = async ({ params }: { params: { id: string } }, res: Response) => {
    const who = callerOf(res);
    res.json(await view(await getAccount(params.id, who, requestIdOf(res)), who, requestIdOf(res)));
  };

  serve(router, OPERATIONS.getAccount, verifier, showAccount);
  serve(router, OPERATIONS.listAccountEntries, verifier, async ({ params, query }, res) => {
    const who = callerOf(res);
    // Ownership first: the ledger knows money, user-service knows whose it is.
    await getAccount(params.id, who, requestIdOf(res));
    const page = await peers
      .call<ledgerV1.GetStatementResponse>((md, o, cb) => peers.ledger.getStatement({ accountId: params.id, limit: query.limit, cursor: query.cursor ?? '' }, md, o, cb), who, requestIdOf(res))
      .catch((e: unknown) => {
        // Not in the ledger yet (just opened): nothing has happened on it.
        if (e instanceof RemoteCallError && e.code === 'ACCOUNT_NOT_FOUND') return { entries: [], nextCursor: '' };
        throw e;
      });
    res.json({ data: page.entries.map(entryView), nextCursor: page.nextCursor || null });
  });
  serve(router, OPERATIONS.closeAccount, verifier, async ({ params }, res) => {
    const who = callerOf(res);
    const a = await peers.call<userV1.BankAccount>((md, o, cb) => peers.user.closeAccount({ accountId: params.id }, md, o, cb), who, requestIdOf(res));
    res.json(await view(a, who, requestIdOf(res)));
  });

  serve(router, OPERATIONS.freezeAccount, verifier, async ({ params, body }, res) => {
    const who = callerOf(res);
    const a = await peers.call<userV1.BankAccount>((md, o, cb) => peers.user.freezeAccount({ accountId: params.id, reason: body.reason }, md, o, cb), who, requestIdOf(res));
    res.json(await view(a, who, requestIdOf(res)));
  });
  serve(router, OPERATIONS.unfreezeAccount, verifier, async ({ params }, res) => {
    const who = callerOf(res);
    const a = await peers.call<userV1.BankAccount>((md, o, cb) => peers.user.unfreezeAccount({ accountId: params.id }, md, o, cb), who, requestIdOf(res));
    res.json(await view(a, who, requestIdOf(res)));
  });
  serve(router, OPERATIONS.getAnyAccount, verifier, showAccount);
}
