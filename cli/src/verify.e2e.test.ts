import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { paymentTransferIds } from '@bank/payments-core';
import { GrpcCaller } from '@bank/platform';
import { TEST_REDIS_URL, TEST_TLS_DIR, callApi, signInOperator, signUpCustomer, startTestBank, testClient, waitFor, type TestBank } from '@bank/testkit';

// bank-cli verify, the cross-service audit, against the real services after real payments: clean,
// then each kind of damage named.

const CLI = path.resolve(__dirname, '..', '..', 'cli', 'dist', 'main.js');
const run = promisify(execFile);
let bank: TestBank;
let env: Record<string, string>;

interface VerifyReport {
  problems: number;
  checks: { name: string; checked: number; violations: string[]; skipped?: string }[];
}

/** One bank-cli command with --json: its exit code and the document it printed. */
async function cliJson<T>(...args: string[]): Promise<{ code: number; body: T }> {
  try {
    const r = await run(process.execPath, [CLI, '--json', ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, body: JSON.parse(r.stdout) as T };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, body: JSON.parse(err.stdout) as T };
  }
}

// Set by the first test, used by the ones after it.
let opened: { from: string; to: string; hold: string } | undefined;

async function verify(...args: string[]): Promise<{ code: number; report: VerifyReport }> {
  const opts = { env: { PATH: process.env.PATH ?? '', ...env } };
  try {
    const r = await run(process.execPath, [CLI, '--json', 'verify', ...args], opts);
    return { code: 0, report: JSON.parse(r.stdout) as VerifyReport };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, report: JSON.parse(err.stdout) as VerifyReport };
  }
}

beforeAll(async () => {
  // The ledger's sweeper runs rarely here, so that a hold left past its timeout stays open.
  bank = await startTestBank({ label: 'cli_verify', gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000' }, serviceEnv: { ledger: { LEDGER_EXPIRY_SWEEP_MS: '60000' } } });
  env = {
    BANK_TLS_DIR: TEST_TLS_DIR,
    LEDGER_GRPC_ADDR: bank.addresses.ledger,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_QUEUE_PREFIX: bank.queuePrefix,
    AUTH_DATABASE_URL: bank.databases.auth,
    USER_DATABASE_URL: bank.databases.user,
    LEDGER_DATABASE_URL: bank.databases.ledger,
    PAYMENT_DATABASE_URL: bank.databases.payment,
  };
}, 90_000);

afterAll(async () => {
  await bank?.stop();
});

describe('bank-cli verify across the services', () => {
  it('is clean after real deposits and payments, and names a corrupted balance, a completed payment without its transfer and a stale hold', async () => {
    const operator = await signInOperator(bank);
    const [alice, bob] = [await signUpCustomer(bank.url), await signUpCustomer(bank.url)];
    const open = async (token: string) => (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, token)).body!.id as string;
    const [from, to] = [await open(alice.token), await open(bob.token)];
    const dep = await waitFor(async () => {
      const r = await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: from, amount: 10_000, currency: 'USD', reference: 'cash' }, operator, { 'Idempotency-Key': `dep-${from}` });
      return r.status === 201 ? r : undefined;
    }, 20_000, 200);
    expect(dep.body).toMatchObject({ status: 'completed' });
    const paid = await callApi(bank.url, 'POST', '/v1/payments', { sourceAccountId: from, destinationAccountId: to, amount: 2_500, currency: 'USD' }, alice.token, { 'Idempotency-Key': newId(), Prefer: 'wait=10' });
    expect(paid.body).toMatchObject({ status: 'completed' });
    const refused = await callApi(bank.url, 'POST', '/v1/payments', { sourceAccountId: from, destinationAccountId: to, amount: 1_000_000, currency: 'USD' }, alice.token, { 'Idempotency-Key': newId(), Prefer: 'wait=10' });
    expect(refused.body).toMatchObject({ status: 'failed' });

    const clean = await waitFor(async () => {
      const r = await verify();
      return r.code === 0 ? r : undefined;
    }, 15_000, 500);
    expect(clean.report.problems).toBe(0);
    const byName = (r: VerifyReport, part: string) => r.checks.find((c) => c.name.includes(part));
    expect(byName(clean.report, 'matches its ledger hold')?.checked).toBe(2);
    expect(byName(clean.report, 'deposits match')?.checked).toBe(1);
    // notification-service's database was not named: its check says so instead of passing.
    expect(byName(clean.report, "notification-service's outbox")?.skipped).toContain('NOTIFICATION_DATABASE_URL');

    const ledgerDb = new Client({ connectionString: bank.databases.ledger });
    const paymentDb = new Client({ connectionString: bank.databases.payment });
    await Promise.all([ledgerDb.connect(), paymentDb.connect()]);
    try {
      await ledgerDb.query('UPDATE ledger_accounts SET credits_posted = credits_posted + 5 WHERE id = $1', [to]);
      const ghost = newId();
      await paymentDb.query(
        `INSERT INTO payments (id, initiator_id, source_account_id, destination_account_id, destination_owner_id, amount, currency, description, status, step, step_times, deadline_at, created_at, completed_at)
         VALUES ($1, $2, $3, $4, $5, 100, 'USD', '', 'completed', 'captured', '{}', now(), now(), now())`,
        [ghost, alice.userId, from, to, bob.userId],
      );
      const ledger = testClient(ledgerV1.LedgerServiceClient, bank.addresses.ledger);
      const hold = newId();
      try {
        const held = await new GrpcCaller().unary<ledgerV1.CreateTransfersResponse>((md, o, cb) =>
          ledger.createTransfers(ledgerV1.CreateTransfersRequest.fromPartial({ transfers: [{ id: hold, debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: systemAccountId('USD', 'suspense'), amount: 1n, currency: 'USD', flags: 2, timeoutSeconds: 1, reference: 'manual' }] }), md, o, cb),
        );
        expect(held.outcomes[0]?.result).toBe(ledgerV1.CreateTransferResult.CREATE_TRANSFER_RESULT_OK);
      } finally {
        ledger.close();
      }
      await new Promise((r) => setTimeout(r, 1_500));
      opened = { from, to, hold };

      const damaged = await verify('--hold-bound-s', '0');
      expect(damaged.code).toBe(1);
      const violations = damaged.report.checks.flatMap((c) => c.violations);
      expect(violations.some((v) => v.startsWith('balance_equals_entries') && v.includes(to))).toBe(true);
      expect(violations).toContain(`payment ${ghost} is completed but its hold ${paymentTransferIds(ghost).hold} is not posted`);
      expect(violations.some((v) => v.startsWith(`hold ${hold} (manual) expired at`))).toBe(true);
      expect(damaged.report.problems).toBe(violations.length);
      // Undone, for the tests after this one.
      await ledgerDb.query('UPDATE ledger_accounts SET credits_posted = credits_posted - 5 WHERE id = $1', [to]);
      await paymentDb.query('DELETE FROM payments WHERE id = $1', [ghost]);
    } finally {
      await Promise.all([ledgerDb.end(), paymentDb.end()]);
    }
  }, 120_000);

  it('holds list --expired shows the hold left past its timeout, and expire-now voids it through the ledger', async () => {
    const { hold } = opened!;
    const listed = await cliJson<{ holds: { id: string; reference: string }[] }>('holds', 'list', '--expired');
    expect(listed.body.holds.map((h) => [h.id, h.reference])).toEqual([[hold, 'manual']]);
    const dry = await cliJson<{ dryRun: boolean; holds: { id: string }[] }>('holds', 'expire-now', '--dry-run');
    expect([dry.body.dryRun, dry.body.holds.map((h) => h.id)]).toEqual([true, [hold]]);
    expect((await cliJson<{ holds: unknown[] }>('holds', 'list', '--expired')).body.holds).toHaveLength(1);
    const voided = await cliJson<{ expired: number }>('--reason', 'test', 'holds', 'expire-now');
    expect([voided.code, voided.body.expired]).toEqual([0, 1]);
    expect((await cliJson<{ holds: unknown[] }>('holds', 'list', '--expired')).body.holds).toEqual([]);
    const audit = await cliJson<{ entries: { service: string; command: string; reason: string; result: unknown }[] }>('audit', 'list');
    expect(audit.body.entries.map((e) => [e.service, e.command, e.reason, e.result])).toContainEqual(['transaction-service', 'holds expire-now', 'test', { expired: 1 }]);
  }, 60_000);

  it('outbox replay publishes an event again: a consumer that lost its effect gets it back, the others change nothing', async () => {
    const { from } = opened!;
    type Listed = { events: { service: string; type: string; id: string; aggregateId: string; publishedAt: string | null }[] };
    const listed = await cliJson<Listed>('outbox', 'list', '--service', 'user', '--aggregate', from);
    const openedEvent = listed.body.events.find((e) => e.type === 'account.opened');
    expect(openedEvent).toMatchObject({ service: 'user-service', aggregateId: from });
    expect(openedEvent?.publishedAt).not.toBeNull();
    // payment-service loses its copy of the account (and the record that it applied the event).
    const paymentDb = new Client({ connectionString: bank.databases.payment });
    await paymentDb.connect();
    const ledger = testClient(ledgerV1.LedgerServiceClient, bank.addresses.ledger);
    const lookup = async () => (await new GrpcCaller().unary<ledgerV1.LookupAccountsResponse>((md, o, cb) => ledger.lookupAccounts({ ids: [from] }, md, o, cb))).accounts[0];
    try {
      const before = await lookup();
      await paymentDb.query('DELETE FROM payment_accounts WHERE id = $1', [from]);
      await paymentDb.query("DELETE FROM inbox WHERE consumer = 'payment-service' AND event_id = $1", [openedEvent!.id]);
      const dry = await cliJson<{ dryRun: boolean; events: unknown[] }>('outbox', 'replay', '--service', 'user', '--id', openedEvent!.id, '--dry-run');
      expect([dry.body.dryRun, dry.body.events.length]).toEqual([true, 1]);
      expect((await paymentDb.query('SELECT 1 FROM payment_accounts WHERE id = $1', [from])).rowCount).toBe(0);
      const replayed = await cliJson<{ replayed: { service: string; events: number; deliveries: number }[] }>('outbox', 'replay', '--service', 'user', '--id', openedEvent!.id);
      // account.opened goes to the ledger, payments and notifications: three deliveries of one event.
      expect(replayed.body.replayed).toEqual([{ service: 'user-service', events: 1, deliveries: 3 }]);
      await waitFor(async () => ((await paymentDb.query('SELECT 1 FROM payment_accounts WHERE id = $1', [from])).rowCount === 1 ? true : undefined), 15_000, 200);
      // The ledger had applied it already: the same account, the same money.
      expect(await lookup()).toEqual(before);
      expect((await verify()).report.problems).toBe(0);
      expect((await cliJson<unknown>('outbox', 'replay', '--service', 'user')).code).toBe(2);
    } finally {
      ledger.close();
      await paymentDb.end();
    }
  }, 60_000);

  it('exits 2 on bad usage and 78 when it cannot find a database', async () => {
    const bad = await run(process.execPath, [CLI, 'verify', '--hold-bound-s', 'soon'], { env: { PATH: process.env.PATH ?? '', ...env } }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    const lost = await run(process.execPath, [CLI, 'migrate', 'status', '--service', 'payment'], { env: { PATH: process.env.PATH ?? '', BANK_TLS_DIR: TEST_TLS_DIR, BANK_DATA_DIR: path.join(TEST_TLS_DIR, 'no-stack') } }).catch((e: { code: number; stderr: string }) => e);
    expect((lost as { code: number }).code).toBe(78);
    expect((lost as { stderr: string }).stderr).toContain('PAYMENT_DATABASE_URL must name payment-service');
  }, 30_000);
});
