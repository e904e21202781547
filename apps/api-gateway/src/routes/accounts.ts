import type { Router } from 'express';
import type { ledgerV1, userV1 } from '@bank/contracts';
import { IDEMPOTENCY_KEY_PATTERN } from '@bank/payments-core';
import { RemoteCallError } from '@bank/platform';
import { authenticate, callerOf, operatorOf, type AuthenticatedCaller, type TokenVerifier } from '../http/auth-token';
import { pageQuery, pathId, readBody } from '../http/input';
import { ProblemError } from '../http/problem';
import { requestIdOf } from '../http/request-id';
import type { Peers } from '../peers';
import { accountView, entryView, profileView } from './views';

/** A profile is created from user.registered a moment after signup; GET /me waits that long for it. */
export const PROFILE_WAIT_MS = 3_000;
const PROFILE_POLL_MS = 100;

function idempotencyKey(header: string | undefined): string {
  // Optional here (required on payments and deposits); its format is checked like everywhere.
  if (header === undefined) return '';
  if (!IDEMPOTENCY_KEY_PATTERN.test(header)) throw new ProblemError('IDEMPOTENCY_KEY_REQUIRED', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
  // user-service keeps keys per owner, so the key goes as the client sent it.
  return header;
}

/** /v1/me, /v1/accounts and /v1/admin/accounts: user-service for the account, the ledger for money. */
export function accountRoutes(router: Router, peers: Peers, verifier: TokenVerifier): void {
  const auth = authenticate(verifier);
  const ledgerAccount = async (id: string, who: AuthenticatedCaller, rid: string) =>
    (await peers.call<ledgerV1.LookupAccountsResponse>((md, o, cb) => peers.ledger.lookupAccounts({ ids: [id] }, md, o, cb), who, rid)).accounts[0];
  const view = async (a: userV1.BankAccount, who: AuthenticatedCaller, rid: string) => accountView(a, await ledgerAccount(a.id, who, rid));
  const getAccount = (id: string, who: AuthenticatedCaller, rid: string) => peers.call<userV1.BankAccount>((md, o, cb) => peers.user.getAccount({ accountId: id }, md, o, cb), who, rid);

  router.get('/me', auth, async (_req, res) => {
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
  router.patch('/me', auth, async (req, res) => {
    const who = callerOf(res);
    const body = readBody(req, { fullName: 'optional-string', phone: 'optional-string' });
    const p = await peers.call<userV1.Profile>((md, o, cb) => peers.user.updateProfile({ userId: '', fullName: body.fullName ?? '', phone: body.phone ?? '' }, md, o, cb), who, requestIdOf(res));
    res.json(profileView(p, who.roles));
  });

  router.post('/accounts', auth, async (req, res) => {
    const who = callerOf(res);
    const body = readBody(req, { currency: 'string' });
    const key = idempotencyKey(req.header('Idempotency-Key'));
    const a = await peers.call<userV1.BankAccount>((md, o, cb) => peers.user.openAccount({ ownerId: '', currency: body.currency, idempotencyKey: key }, md, o, cb), who, requestIdOf(res));
    // Opening depends on user-service alone: the ledger learns of the account through the outbox
    // (it cannot have it yet, and may be down), so the new account shows a zero balance.
    res.status(201).json(accountView(a, undefined));
  });
  router.get('/accounts', auth, async (req, res) => {
    const who = callerOf(res);
    const { limit, cursor } = pageQuery(req);
    const rid = requestIdOf(res);
    const page = await peers.call<userV1.ListAccountsResponse>((md, o, cb) => peers.user.listAccounts({ ownerId: '', limit, cursor }, md, o, cb), who, rid);
    const ids = page.accounts.map((a) => a.id);
    const balances = ids.length > 0 ? (await peers.call<ledgerV1.LookupAccountsResponse>((md, o, cb) => peers.ledger.lookupAccounts({ ids }, md, o, cb), who, rid)).accounts : [];
    const byId = new Map(balances.map((b) => [b.id, b]));
    res.json({ data: page.accounts.map((a) => accountView(a, byId.get(a.id))), nextCursor: page.nextCursor || null });
  });
  router.get('/accounts/:id', auth, async (req, res) => {
    const who = callerOf(res);
    res.json(await view(await getAccount(pathId(req), who, requestIdOf(res)), who, requestIdOf(res)));
  });
  router.get('/accounts/:id/transactions', auth, async (req, res) => {
    const who = callerOf(res);
    const id = pathId(req);
    const { limit, cursor } = pageQuery(req);
    // Ownership first: the ledger knows money, user-service knows whose it is.
    await getAccount(id, who, requestIdOf(res));
    const page = await peers
      .call<ledgerV1.GetStatementResponse>((md, o, cb) => peers.ledger.getStatement({ accountId: id, limit, cursor }, md, o, cb), who, requestIdOf(res))
      .catch((e: unknown) => {
        // Not in the ledger yet (just opened): nothing has happened on it.
        if (e instanceof RemoteCallError && e.code === 'ACCOUNT_NOT_FOUND') return { entries: [], nextCursor: '' };
        throw e;
      });
    res.json({ data: page.entries.map(entryView), nextCursor: page.nextCursor || null });
  });
  router.post('/accounts/:id/close', auth, async (req, res) => {
    const who = callerOf(res);
    readBody(req, {});
    const a = await peers.call<userV1.BankAccount>((md, o, cb) => peers.user.closeAccount({ accountId: pathId(req) }, md, o, cb), who, requestIdOf(res));
    res.json(await view(a, who, requestIdOf(res)));
  });

  router.post('/admin/accounts/:id/freeze', auth, async (req, res) => {
    const who = operatorOf(req, res);
    const body = readBody(req, { reason: 'string' });
    const a = await peers.call<userV1.BankAccount>((md, o, cb) => peers.user.freezeAccount({ accountId: pathId(req), reason: body.reason }, md, o, cb), who, requestIdOf(res));
    res.json(await view(a, who, requestIdOf(res)));
  });
  router.post('/admin/accounts/:id/unfreeze', auth, async (req, res) => {
    const who = operatorOf(req, res);
    readBody(req, {});
    const a = await peers.call<userV1.BankAccount>((md, o, cb) => peers.user.unfreezeAccount({ accountId: pathId(req) }, md, o, cb), who, requestIdOf(res));
    res.json(await view(a, who, requestIdOf(res)));
  });
  router.get('/admin/accounts/:id', auth, async (req, res) => {
    const who = operatorOf(req, res);
    res.json(await view(await getAccount(pathId(req), who, requestIdOf(res)), who, requestIdOf(res)));
  });
}
