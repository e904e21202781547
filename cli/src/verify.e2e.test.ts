import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { paymentTransferIds } from '@bank/payments-core';
import { GrpcCaller } from '@bank/platform';
import { TEST_TLS_DIR, callApi, signInOperator, signUpCustomer, startTestBank, testClient, waitFor, type TestBank } from '@bank/testkit';

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

      const damaged = await verify('--hold-bound-s', '0');
      expect(damaged.code).toBe(1);
      const violations = damaged.report.checks.flatMap((c) => c.violations);
      expect(violations.some((v) => v.startsWith('balance_equals_entries') && v.includes(to))).toBe(true);
      expect(violations).toContain(`payment ${ghost} is completed but its hold ${paymentTransferIds(ghost).hold} is not posted`);
      expect(violations.some((v) => v.startsWith(`hold ${hold} (manual) expired at`))).toBe(true);
      expect(damaged.report.problems).toBe(violations.length);
    } finally {
      await Promise.all([ledgerDb.end(), paymentDb.end()]);
    }
  }, 120_000);

  it('exits 2 on bad usage and 78 when it cannot find a database', async () => {
    const bad = await run(process.execPath, [CLI, 'verify', '--hold-bound-s', 'soon'], { env: { PATH: process.env.PATH ?? '', ...env } }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    const lost = await run(process.execPath, [CLI, 'migrate', 'status', '--service', 'payment'], { env: { PATH: process.env.PATH ?? '', BANK_TLS_DIR: TEST_TLS_DIR, BANK_DATA_DIR: path.join(TEST_TLS_DIR, 'no-stack') } }).catch((e: { code: number; stderr: string }) => e);
    expect((lost as { code: number }).code).toBe(78);
    expect((lost as { stderr: string }).stderr).toContain('PAYMENT_DATABASE_URL must name payment-service');
  });
});
