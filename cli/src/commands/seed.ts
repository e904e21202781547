import type { Command } from 'commander';
import { authV1, paymentV1, userV1 } from '@bank/contracts';
import { isCurrency } from '@bank/kernel';
import { MAX_WAIT_SECONDS } from '@bank/payments-core';
import { RemoteCallError } from '@bank/platform';
import { StackError } from '../stack/errors';
import { EXIT_USAGE, forEachBounded, minorUnits, operatorAction, positiveInt, serviceNamed, type OperatorContext } from './context';

export const SEED_MAX_USERS = 100_000;
export const SEED_MAX_ACCOUNTS_PER_USER = 10;
export const SEED_MAX_PAYMENTS = 1_000_000;
/** Calls in flight at once by default: enough to keep two cores of services busy, few enough not to queue past deadlines. */
export const SEED_DEFAULT_CONCURRENCY = 16;
export const SEED_MAX_CONCURRENCY = 64;
/** A seeded payment is at most this fraction of the deposit (1/10), so most of them find the money. */
const PAYMENT_AMOUNT_DIVISOR = 10n;
/** A seeded payment's call waits for its saga this long, so the seed ends with every saga ended. */
const PAYMENT_WAIT_SECONDS = MAX_WAIT_SECONDS;
const PAYMENT_CALL_MARGIN_MS = 5_000;
/** Seeded users' password unless --password: long enough for the bank's rule, and plainly a seed's. */
export const SEED_DEFAULT_PASSWORD = 'seeded-user-password';
const SEED_EMAIL_DOMAIN = 'seed.bank.test';
const DEMO_USERS = [
  { email: 'alice@demo.bank.test', fullName: 'Alice Archer' },
  { email: 'bob@demo.bank.test', fullName: 'Bob Baker' },
  { email: 'carol@demo.bank.test', fullName: 'Carol Cooper' },
] as const;
const DEMO = { accountsPerUser: 2, deposit: 100_000n, payments: 6 } as const;
const PAYMENTS = serviceNamed('payment-service');
const OUTCOME: Partial<Record<paymentV1.PaymentStatus, 'completed' | 'failed' | 'cancelled'>> = {
  [paymentV1.PaymentStatus.PAYMENT_STATUS_COMPLETED]: 'completed',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_FAILED]: 'failed',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_CANCELLED]: 'cancelled',
};

interface SeedUser {
  readonly email: string;
  readonly fullName: string;
}

interface SeedPlan {
  readonly users: readonly SeedUser[];
  readonly accountsPerUser: number;
  readonly deposit: bigint;
  readonly currency: string;
  readonly payments: number;
  readonly password: string;
  readonly seed: number;
  readonly concurrency: number;
}

/** Deterministic random numbers (mulberry32): the same --seed makes the same payments, so a re-run replays them. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const remoteCode = (e: unknown) => (e instanceof RemoteCallError ? e.code : undefined);

/**
 * Makes users, their accounts and deposits, then random payments between them, through the
 * services' own RPCs as bank-cli (an operator's tool): signups, account openings, deposits and
 * payments are the real ones, with their events, ledger entries and emails. Every step is keyed,
 * so a re-run with the same options changes nothing and answers with what exists.
 */
async function seed(ctx: OperatorContext, plan: SeedPlan) {
  const startedAt = Date.now();
  const phasesMs = { users: 0, accounts: 0, deposits: 0, payments: 0 };
  let phaseStart = startedAt;
  const phaseDone = (phase: keyof typeof phasesMs) => {
    phasesMs[phase] = Date.now() - phaseStart;
    phaseStart = Date.now();
  };
  const userIds: string[] = new Array<string>(plan.users.length);
  let created = 0;
  const signups = ctx.progress(plan.users.length, 'users   ');
  await ctx.withClient(authV1.AuthServiceClient, (auth, call) =>
    forEachBounded(plan.users, plan.concurrency, async (u, i) => {
      // Made by an earlier run: its id is all the seed needs (its password is left as it is). Asked
      // first, because a signup costs a bcrypt hash even when the email turns out to be taken.
      const existing = await call<authV1.UserRecord>((md, o, cb) => auth.getUser({ email: u.email }, md, o, cb)).catch((e: unknown) => {
        if (remoteCode(e) !== 'NOT_FOUND') throw e;
        return undefined;
      });
      if (existing) {
        userIds[i] = existing.userId;
      } else {
        try {
          userIds[i] = (await call<authV1.SignUpResponse>((md, o, cb) => auth.signUp({ email: u.email, password: plan.password, fullName: u.fullName }, md, o, cb))).userId;
          created += 1;
        } catch (e) {
          // Another seed running at once made it in between.
          if (remoteCode(e) !== 'EMAIL_TAKEN') throw e;
          userIds[i] = (await call<authV1.UserRecord>((md, o, cb) => auth.getUser({ email: u.email }, md, o, cb))).userId;
        }
      }
      signups.increment();
    }),
  );
  signups.stop();
  phaseDone('users');

  const accountIds: string[] = new Array<string>(plan.users.length * plan.accountsPerUser);
  let opened = 0;
  const openings = ctx.progress(accountIds.length, 'accounts');
  await ctx.withClient(userV1.UserServiceClient, (users, call) =>
    forEachBounded(accountIds, plan.concurrency, async (_unused, k) => {
      const ownerId = userIds[Math.floor(k / plan.accountsPerUser)] as string;
      const key = `seed:${plan.currency}:${k % plan.accountsPerUser}`;
      const res = await call<userV1.OpenAccountResponse>((md, o, cb) => users.openAccount({ ownerId, currency: plan.currency, idempotencyKey: key }, md, o, cb));
      accountIds[k] = (res.account as userV1.BankAccount).id;
      if (!res.replayed) opened += 1;
      openings.increment();
    }),
  );
  openings.stop();
  phaseDone('accounts');

  let deposited = 0;
  const deposits = ctx.progress(plan.deposit === 0n ? 0 : accountIds.length, 'deposits');
  await ctx.withClient(paymentV1.PaymentServiceClient, (payments, call) =>
    forEachBounded(plan.deposit === 0n ? [] : accountIds, plan.concurrency, async (accountId) => {
      const res = await call<paymentV1.CreateDepositResponse>((md, o, cb) =>
        payments.createDeposit({ idempotencyKey: `seed-deposit:${accountId}:${plan.deposit}`, accountId, amount: plan.deposit, currency: plan.currency, reference: 'bank-cli seed' }, md, o, cb),
      );
      if (!res.replayed) deposited += 1;
      deposits.increment();
    }),
  );
  deposits.stop();
  phaseDone('deposits');

  const next = random(plan.seed);
  const transfers = Array.from({ length: accountIds.length < 2 ? 0 : plan.payments }, (_unused, n) => {
    const from = Math.floor(next() * accountIds.length);
    const to = (from + 1 + Math.floor(next() * (accountIds.length - 1))) % accountIds.length;
    const amount = 1n + BigInt(Math.floor(next() * Number(plan.deposit / PAYMENT_AMOUNT_DIVISOR)));
    return { key: `seed-payment:${plan.seed}:${plan.users.length}x${plan.accountsPerUser}:${plan.currency}:${n}`, from: accountIds[from] as string, to: accountIds[to] as string, amount };
  });
  const outcomes = { completed: 0, failed: 0, cancelled: 0, pending: 0, replayed: 0 };
  const failures = new Map<string, number>();
  const paying = ctx.progress(transfers.length, 'payments');
  await ctx.withClient(paymentV1.PaymentServiceClient, (payments, call) =>
    forEachBounded(transfers, plan.concurrency, async (t) => {
      const req: paymentV1.CreatePaymentRequest = { idempotencyKey: t.key, sourceAccountId: t.from, destinationAccountId: t.to, amount: t.amount, currency: plan.currency, description: 'bank-cli seed', waitSeconds: PAYMENT_WAIT_SECONDS };
      const res = await call<paymentV1.CreatePaymentResponse>((md, o, cb) => payments.createPayment(req, md, o, cb), PAYMENT_WAIT_SECONDS * 1000 + PAYMENT_CALL_MARGIN_MS);
      const p = res.payment as paymentV1.Payment;
      if (res.replayed) outcomes.replayed += 1;
      outcomes[OUTCOME[p.status] ?? 'pending'] += 1;
      if (p.failureCode) failures.set(p.failureCode, (failures.get(p.failureCode) ?? 0) + 1);
      paying.increment();
    }),
  );
  paying.stop();
  phaseDone('payments');

  return {
    users: plan.users.map((u, i) => ({ email: u.email, userId: userIds[i] as string })),
    password: plan.password,
    created: { users: created, accounts: opened, deposits: deposited },
    accounts: accountIds.length,
    payments: { ...outcomes, failureCodes: Object.fromEntries(failures) },
    elapsedMs: Date.now() - startedAt,
    phasesMs,
  };
}

/** `bank-cli seed`: users, accounts, deposits and payments through the services' own paths. */
export function registerSeed(program: Command): void {
  const command = program
    .command('seed')
    .description('make users, accounts, deposits and random payments through the services (real events, ledger entries, emails); a re-run changes nothing')
    .option('--users <n>', `how many users (up to ${SEED_MAX_USERS}), emails seed-<i>@${SEED_EMAIL_DOMAIN}`)
    .option('--accounts-per-user <k>', `accounts each (up to ${SEED_MAX_ACCOUNTS_PER_USER})`, '1')
    .option('--deposit <minor>', 'deposited into every account, in minor units (1250 is 12.50)', '0')
    .option('--currency <code>', 'of every account', 'EUR')
    .option('--payments <m>', `random payments between the seeded accounts (up to ${SEED_MAX_PAYMENTS})`, '0')
    .option('--demo', `a small, memorable set: ${DEMO_USERS.map((u) => u.email).join(', ')}, ${DEMO.accountsPerUser} accounts each, ${DEMO.deposit} deposited in each, ${DEMO.payments} payments`)
    .option('--password <p>', 'the password of the users it makes', SEED_DEFAULT_PASSWORD)
    .option('--seed <n>', 'the random seed of the payments; the same seed makes the same payments', '1')
    .option('--concurrency <n>', `calls in flight at once (up to ${SEED_MAX_CONCURRENCY})`, String(SEED_DEFAULT_CONCURRENCY))
    .addHelpText('after', '\nExamples:\n  bank-cli seed --demo\n  bank-cli seed --users 1000 --accounts-per-user 2 --deposit 100000 --payments 2000\n  bank-cli --json seed --users 10 --deposit 5000 | jq .users');
  command.action(
    operatorAction(command, async (ctx, opts: { users?: string; accountsPerUser: string; deposit: string; currency: string; payments: string; demo?: boolean; password: string; seed: string; concurrency: string }) => {
      const currency = opts.currency.toUpperCase();
      if (!isCurrency(currency)) throw new StackError(`--currency ${opts.currency} is not a currency the bank supports`, EXIT_USAGE);
      if ((opts.demo === true) === (opts.users !== undefined)) throw new StackError('say how many with --users, or --demo for the small set', EXIT_USAGE);
      const userCount = opts.users === undefined ? 0 : positiveInt('--users', opts.users, SEED_MAX_USERS);
      const common = { currency, password: opts.password, seed: positiveInt('--seed', opts.seed, 2 ** 31), concurrency: positiveInt('--concurrency', opts.concurrency, SEED_MAX_CONCURRENCY) };
      const plan: SeedPlan =
        opts.demo === true
          ? { ...common, users: DEMO_USERS, accountsPerUser: DEMO.accountsPerUser, deposit: DEMO.deposit, payments: DEMO.payments }
          : {
              ...common,
              users: Array.from({ length: userCount }, (_unused, i) => ({ email: `seed-${i + 1}@${SEED_EMAIL_DOMAIN}`, fullName: `Seed User ${i + 1}` })),
              accountsPerUser: positiveInt('--accounts-per-user', opts.accountsPerUser, SEED_MAX_ACCOUNTS_PER_USER),
              deposit: opts.deposit === '0' ? 0n : minorUnits('--deposit', opts.deposit),
              payments: opts.payments === '0' ? 0 : positiveInt('--payments', opts.payments, SEED_MAX_PAYMENTS),
            };
      if (plan.payments > 0 && plan.deposit === 0n) throw new StackError('payments need money: give --deposit too', EXIT_USAGE);
      const args = { users: plan.users.length, accountsPerUser: plan.accountsPerUser, deposit: plan.deposit, currency, payments: plan.payments, seed: plan.seed, demo: opts.demo === true };
      let result: Awaited<ReturnType<typeof seed>> | undefined;
      await ctx.audited(PAYMENTS, 'seed', args, async () => {
        result = await seed(ctx, plan);
        // The audit keeps the counts, not every login.
        return { ...result, users: result.users.length, password: undefined };
      });
      const r = result as Awaited<ReturnType<typeof seed>>;
      const failed = Object.entries(r.payments.failureCodes).map(([code, n]) => `${code} ${n}`).join(', ');
      const human = [
        ...r.users.map((u) => `${u.email}  ${u.userId}`),
        `logins: the emails above with password ${r.password} (users made by an earlier run keep theirs)`,
        `users ${r.users.length} (${r.created.users} new), accounts ${r.accounts} (${r.created.accounts} new), deposits ${r.created.deposits} new`,
        `payments: ${r.payments.completed} completed, ${r.payments.failed} failed${failed ? ` (${failed})` : ''}, ${r.payments.cancelled} cancelled, ${r.payments.pending} still pending, ${r.payments.replayed} from an earlier run`,
        `in ${(r.elapsedMs / 1000).toFixed(1)} s (users ${(r.phasesMs.users / 1000).toFixed(1)} s, accounts ${(r.phasesMs.accounts / 1000).toFixed(1)} s, deposits ${(r.phasesMs.deposits / 1000).toFixed(1)} s, payments ${(r.phasesMs.payments / 1000).toFixed(1)} s)`,
      ].join('\n');
      return { human, ...r };
    }),
  );
}
