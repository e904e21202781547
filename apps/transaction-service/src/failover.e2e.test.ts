import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { RemoteCallError, checkHealth } from '@bank/platform';
import { createTestDatabase, freePort, querySql, TEST_REDIS_URL, testQueuePrefix, TEST_TLS_DIR, testIdentity, waitFor } from '@bank/testkit';
import { EXIT_LEASE_LOST } from './container';
import { LEASE_TTL_MS } from './lease';
import { LedgerClient, resultName } from './support/ledger-client';
import { exited } from './support/service-process';

// Ledger failover with real processes on one database: an active transaction-service holding the
// writer's lease and a standby answering NOT_SERVING. The active one is SIGKILLed under a steady
// stream of transfers and the standby serves within 5 s, every acknowledged transfer exists once
// and the ledger balances; then the new active one is SIGSTOPped, a third takes over, and the
// stopped one, resumed, writes nothing (its writes are fenced) and exits.

const MAIN = path.resolve(__dirname, '..', 'dist', 'main.js');
const CALLERS = 8;
const TAKEOVER_BOUND_MS = 5_000;
const CALL_TIMEOUT_MS = 10_000;

interface Ledger {
  readonly port: number;
  readonly child: ChildProcess;
  readonly client: LedgerClient;
}

let db: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;
const ledgers: Ledger[] = [];

/** `untilLogged`: resolves once the process has logged this (at info), i.e. it is up and has its signal handlers. */
async function startLedger(untilLogged?: string): Promise<Ledger> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env, LEDGER_GRPC_PORT: String(port), ...(untilLogged ? { LOG_LEVEL: 'info' } : {}) },
    stdio: ['ignore', untilLogged ? 'pipe' : 'ignore', 'ignore'],
  });
  if (untilLogged) {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      // Read to the end, so that the child never blocks on a full pipe.
      child.stdout?.on('data', (chunk: Buffer) => {
        if (seen.includes(untilLogged)) return;
        seen += chunk.toString();
        if (seen.includes(untilLogged)) resolve();
      });
      child.once('exit', (code, signal) => reject(new Error(`the ledger exited (${code ?? signal}) before logging "${untilLogged}"`)));
    });
  }
  // payment-service is the workload that makes transfers in production.
  const l = { port, child, client: new LedgerClient(`127.0.0.1:${port}`, testIdentity('payment-service')) };
  ledgers.push(l);
  return l;
}

const serving = (l: Ledger) => checkHealth(`127.0.0.1:${l.port}`, testIdentity('bank-cli'), 500);
const sql = <T extends Record<string, unknown>>(text: string, values: unknown[] = []) => querySql<T>(db.url, text, values);
const leaseToken = async () => BigInt((await sql<{ token: string }>('SELECT token::text AS token FROM ledger_lease'))[0]?.token ?? '0');

beforeAll(async () => {
  db = await createTestDatabase('ledger_failover');
  env = { LEDGER_DATABASE_URL: db.url, BANK_TLS_DIR: TEST_TLS_DIR, REDIS_URL: TEST_REDIS_URL, REDIS_QUEUE_PREFIX: testQueuePrefix('failover'), LOG_LEVEL: 'warn', LEDGER_METRICS_PORT: '0' };
});

afterAll(async () => {
  for (const l of ledgers) {
    l.client.close();
    if (l.child.exitCode === null && l.child.signalCode === null) {
      l.child.kill('SIGCONT');
      l.child.kill('SIGKILL');
      await exited(l.child);
    }
  }
  await db.drop();
});

it('a standby takes over within 5 s of the writer dying, and a paused former writer writes nothing once its lease is taken', async () => {
  const a = await startLedger();
  await waitFor(async () => ((await serving(a)) ? true : undefined), 30_000, 100);
  const b = await startLedger();
  // The standby is up and answers, but not as a writer: NOT_SERVING, and calls are refused.
  await new Promise((r) => setTimeout(r, 1_500));
  expect(b.child.exitCode).toBeNull();
  expect(await serving(b)).toBe(false);
  await expect(b.client.lookupAccounts([newId()])).rejects.toMatchObject({ code: 'LEDGER_NOT_ACTIVE' });

  const admin = new LedgerClient(`127.0.0.1:${a.port}`, testIdentity('bank-cli'));
  const accounts = Array.from({ length: 20 }, () => newId());
  try {
    await admin.createAccounts(accounts.map((id) => ({ id, currency: 'USD', kind: ledgerV1.AccountKind.ACCOUNT_KIND_CUSTOMER, flags: 1 })));
    await admin.createTransfers(accounts.map((id) => ({ id: newId(), debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: id, amount: 1_000_000_000n, currency: 'USD' })));
  } finally {
    admin.close();
  }

  // A steady stream of transfers, each retried with its id against whichever ledger is active
  // until one answers it: ok the first time, `exists` when an earlier try had been applied.
  const acknowledged = new Map<string, string>();
  const servedBy = new Map<Ledger, number>();
  let firstByB: number | undefined;
  let stop = false;
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)] as string;
  const stream = Array.from({ length: CALLERS }, async () => {
    while (!stop) {
      const d = pick();
      let c = pick();
      while (c === d) c = pick();
      const t = { id: newId(), debitAccountId: d, creditAccountId: c, amount: 1n, currency: 'USD' };
      for (let attempt = 0; !stop || attempt === 0; attempt++) {
        const target = [a, b][attempt % 2] as Ledger;
        try {
          const res = await target.client.createTransfers([t], CALL_TIMEOUT_MS);
          const result = resultName((res.outcomes[0] as ledgerV1.TransferOutcome).result);
          expect(['ok', 'exists']).toContain(result);
          acknowledged.set(t.id, result);
          servedBy.set(target, (servedBy.get(target) ?? 0) + 1);
          if (target === b) firstByB ??= Date.now();
          break;
        } catch (e) {
          if (!(e instanceof RemoteCallError)) throw e;
          // The standby's refusal, or the dead writer's lost connection: the other one, shortly.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1_500));
  const tokenBefore = await leaseToken();
  a.child.kill('SIGKILL');
  const killedAt = Date.now();
  await exited(a.child);
  await waitFor(async () => (firstByB !== undefined ? true : undefined), TAKEOVER_BOUND_MS + 5_000, 50);
  const takeoverMs = (firstByB as number) - killedAt;
  await new Promise((r) => setTimeout(r, 1_000));
  stop = true;
  await Promise.all(stream);

  expect(takeoverMs).toBeLessThan(TAKEOVER_BOUND_MS);
  expect(await serving(b)).toBe(true);
  expect(await leaseToken()).toBe(tokenBefore + 1n);
  expect(servedBy.get(a)).toBeGreaterThan(20);
  expect(servedBy.get(b)).toBeGreaterThan(20);
  // Every acknowledged transfer exists, once (the id is the key); the ledger balances.
  const ids = [...acknowledged.keys()];
  const [stored] = await sql<{ n: number }>('SELECT count(*)::int AS n FROM transfers WHERE id = ANY($1::uuid[])', [ids]);
  expect(stored?.n).toBe(ids.length);
  const verify = new LedgerClient(`127.0.0.1:${b.port}`, testIdentity('bank-cli'));
  try {
    const report = await verify.verify();
    expect(report.violations).toEqual([]);
    expect(Number(report.transfersChecked)).toBe(ids.length + accounts.length);
  } finally {
    verify.close();
  }

  // b, the writer now, is paused; c takes over once b's lease lapses.
  const c = await startLedger();
  b.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  await waitFor(async () => ((await serving(c)) ? true : undefined), LEASE_TTL_MS + 10_000, 100);
  expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(LEASE_TTL_MS - 1_000);
  const takenOver = await sql<{ at: Date }>('SELECT now() AS at');
  // Transfers sent to the paused former writer wait in its socket; c serves its own meanwhile.
  const toB = Array.from({ length: 10 }, () => ({ id: newId(), debitAccountId: accounts[0] as string, creditAccountId: accounts[1] as string, amount: 1n, currency: 'USD' }));
  const answersOfB = toB.map((t) =>
    b.client.createTransfers([t], CALL_TIMEOUT_MS).then(
      (r) => resultName((r.outcomes[0] as ledgerV1.TransferOutcome).result),
      (e: unknown) => (e instanceof RemoteCallError ? `refused: ${e.code}` : `failed: ${String(e)}`),
    ),
  );
  const cId = newId();
  const byC = await c.client.createTransfers([{ id: cId, debitAccountId: accounts[2] as string, creditAccountId: accounts[3] as string, amount: 1n, currency: 'USD' }]);
  expect(resultName((byC.outcomes[0] as ledgerV1.TransferOutcome).result)).toBe('ok');
  await new Promise((r) => setTimeout(r, 500));
  b.child.kill('SIGCONT');
  // Resumed, it finds its lease taken and leaves; whatever it tried to write was fenced.
  expect(await exited(b.child)).toBe(EXIT_LEASE_LOST);
  for (const answer of await Promise.all(answersOfB)) expect(answer).not.toBe('ok');
  const [written] = await sql<{ n: number }>('SELECT count(*)::int AS n FROM transfers WHERE id = ANY($1::uuid[])', [toB.map((t) => t.id)]);
  expect(written?.n).toBe(0);
  // Nothing but c's transfer was written after the takeover.
  const [late] = await sql<{ n: number }>('SELECT count(*)::int AS n FROM transfers WHERE created_at > $1 AND id <> $2', [takenOver[0]?.at, cId]);
  expect(late?.n).toBe(0);
  expect(await serving(c)).toBe(true);

  // A standby stops at once on SIGTERM; the writer, stopped gracefully, gives its lease up.
  // Once it says it is a standby (on a loaded machine a fixed wait could end before its signal handlers exist).
  const d = await startLedger('standby: another transaction-service holds the writer lease');
  const termAt = Date.now();
  d.child.kill('SIGTERM');
  expect(await exited(d.child)).toBe(0);
  expect(Date.now() - termAt).toBeLessThan(2_000);
  c.child.kill('SIGTERM');
  expect(await exited(c.child)).toBe(0);
  const [released] = await sql<{ lapsed: boolean }>('SELECT expires_at <= now() AS lapsed FROM ledger_lease');
  expect(released?.lapsed).toBe(true);
}, 120_000);
