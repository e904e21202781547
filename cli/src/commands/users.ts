import type { Command } from 'commander';
import { authV1, ledgerV1, userV1 } from '@bank/contracts';
import { LIST_MAX_LIMIT } from '@bank/kernel';
import { StackError } from '../stack/errors';
import { EXIT_USAGE, operatorAction, serviceNamed } from './context';

const AUTH = serviceNamed('auth-service');
/** A customer's accounts shown at most (one page of user-service's list). */
const USER_ACCOUNTS_SHOWN = LIST_MAX_LIMIT;
const ACCOUNT_STATUS: Record<number, string> = {
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_ACTIVE]: 'active',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_FROZEN]: 'frozen',
  [userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_CLOSED]: 'closed',
};

function email(raw: string): string {
  const trimmed = raw.trim();
  if (!trimmed.includes('@')) throw new StackError(`${raw} is not an email address`, EXIT_USAGE);
  return trimmed;
}

/** `bank-cli users show`, `roles set`, `sessions revoke`: a user's record and what an operator may change of it. */
export function registerUsers(program: Command): void {
  const users = program.command('users').description("a user as the bank knows them: credentials record, roles, sessions, accounts and balances");
  const show = users
    .command('show <email>')
    .description("auth-service's record of the user (never the password), their accounts (user-service) and balances (the ledger)")
    .addHelpText('after', '\nExamples:\n  bank-cli users show ada@example.com\n  bank-cli --json users show ada@example.com | jq .accounts');
  show.action(
    operatorAction(show, async (ctx, raw: string) => {
      const user = await ctx.withClient(authV1.AuthServiceClient, (c, call) => call<authV1.UserRecord>((md, o, cb) => c.getUser({ email: email(raw) }, md, o, cb)));
      const page = await ctx.withClient(userV1.UserServiceClient, (c, call) => call<userV1.ListAccountsResponse>((md, o, cb) => c.listAccounts({ ownerId: user.userId, limit: USER_ACCOUNTS_SHOWN, cursor: '' }, md, o, cb)));
      const ids = page.accounts.map((a) => a.id);
      const balances = ids.length === 0 ? [] : (await ctx.withClient(ledgerV1.LedgerServiceClient, (c, call) => call<ledgerV1.LookupAccountsResponse>((md, o, cb) => c.lookupAccounts({ ids }, md, o, cb)))).accounts;
      const byId = new Map(balances.map((b) => [b.id, b]));
      const accounts = page.accounts.map((a) => {
        const b = byId.get(a.id);
        return { id: a.id, currency: a.currency, status: ACCOUNT_STATUS[a.status] ?? 'unknown', createdAt: a.createdAt ?? null, balance: b?.balance?.posted ?? null, available: b?.balance?.available ?? null, held: b?.balance?.pending ?? null };
      });
      const record = { userId: user.userId, email: user.email, fullName: user.fullName, roles: user.roles, createdAt: user.createdAt ?? null, failedLogins: user.failedLogins, lockedUntil: user.lockedUntil ?? null, activeSessions: user.activeSessions };
      const human = [
        `${record.fullName} <${record.email}>  ${record.userId}`,
        `roles ${record.roles.join(', ')}  since ${record.createdAt?.toISOString() ?? '?'}  sessions ${record.activeSessions}  failed logins ${record.failedLogins}${record.lockedUntil ? `  LOCKED until ${record.lockedUntil.toISOString()}` : ''}`,
        ...accounts.map((a) => `  ${a.id}  ${a.currency}  ${a.status.padEnd(6)}  balance ${a.balance ?? '(not in the ledger yet)'}${a.held ? `  held ${a.held}  available ${a.available}` : ''}`),
        `${accounts.length} account(s)${page.nextCursor ? ` (the first ${USER_ACCOUNTS_SHOWN})` : ''}`,
      ].join('\n');
      return { human, user: record, accounts };
    }),
  );

  const roles = program.command('roles').description("grant or revoke a user's roles (customer, operator, admin)");
  const set = roles
    .command('set')
    .description('the only way to make someone an operator or admin (never the public API); new tokens carry the roles')
    .requiredOption('--email <email>', 'the user')
    .requiredOption('--roles <list>', 'comma-separated, e.g. customer,operator')
    .addHelpText('after', '\nExamples:\n  bank-cli roles set --email ada@example.com --roles customer,operator --reason "on call this week"');
  set.action(
    operatorAction(set, async (ctx, opts: { email: string; roles: string }) => {
      const wanted = opts.roles.split(',').map((r) => r.trim()).filter(Boolean);
      const res = await ctx.audited(AUTH, 'roles set', { email: opts.email, roles: wanted }, () =>
        ctx.withClient(authV1.AuthServiceClient, (c, call) => call<authV1.SetRolesResponse>((md, o, cb) => c.setRoles({ email: email(opts.email), roles: wanted }, md, o, cb))),
      );
      return { human: `${opts.email} (${res.userId}) now has roles: ${res.roles.join(', ')}; new tokens carry them`, userId: res.userId, roles: res.roles };
    }),
  );

  const sessions = program.command('sessions').description("a user's sessions (refresh tokens)");
  const revoke = sessions
    .command('revoke <email>')
    .description('sign the user out everywhere: every refresh token stops working; access tokens already out expire on their own')
    .addHelpText('after', '\nExamples:\n  bank-cli sessions revoke ada@example.com --reason "phone stolen"');
  revoke.action(
    operatorAction(revoke, async (ctx, raw: string) => {
      const res = await ctx.audited(AUTH, 'sessions revoke', { email: raw }, () =>
        ctx.withClient(authV1.AuthServiceClient, (c, call) => call<authV1.RevokeSessionsResponse>((md, o, cb) => c.revokeSessions({ email: email(raw) }, md, o, cb))),
      );
      return {
        human: `revoked ${res.revokedSessions} session(s) of ${raw} (${res.userId}); access tokens already issued stay valid for at most ${res.accessTokenTtlSeconds} s`,
        userId: res.userId,
        revokedSessions: res.revokedSessions,
        accessTokenTtlSeconds: res.accessTokenTtlSeconds,
      };
    }),
  );

  const keys = program.command('keys').description("auth-service's signing keys (access tokens)");
  const list = keys
    .command('list')
    .description('every recorded key, oldest first: which one signs, which are published in the JWKS')
    .addHelpText('after', '\nExamples:\n  bank-cli keys list\n  bank-cli --json keys list');
  list.action(
    operatorAction(list, async (ctx) => {
      const res = await ctx.withClient(authV1.AuthServiceClient, (c, call) => call<authV1.ListSigningKeysResponse>((md, o, cb) => c.listSigningKeys({}, md, o, cb)));
      const rows = res.keys.map((k) => ({ kid: k.kid, createdAt: k.createdAt ?? null, retiredAt: k.retiredAt ?? null, signing: k.signing, published: k.published }));
      const lines = rows.map((k) => `${k.kid}  created ${k.createdAt?.toISOString() ?? '?'}  ${k.signing ? 'SIGNING' : k.retiredAt ? `retired ${k.retiredAt.toISOString()}` : 'next'}  ${k.published ? 'published' : 'unpublished'}`);
      return { human: [...lines, `${rows.length} key(s)`].join('\n'), keys: rows };
    }),
  );
  const rotate = keys
    .command('rotate')
    .description('make a new signing key: published now, signing once every verifier can know it; the old one stays published while its tokens live')
    .addHelpText('after', '\nExamples:\n  bank-cli keys rotate --reason "quarterly rotation"');
  rotate.action(
    operatorAction(rotate, async (ctx) => {
      const res = await ctx.audited(AUTH, 'keys rotate', {}, () => ctx.withClient(authV1.AuthServiceClient, (c, call) => call<authV1.RotateSigningKeyResponse>((md, o, cb) => c.rotateSigningKey({}, md, o, cb))));
      return { human: `new signing key ${res.kid}: published now, signs from ${res.signsFrom?.toISOString() ?? '?'}`, kid: res.kid, signsFrom: res.signsFrom ?? null };
    }),
  );
}
