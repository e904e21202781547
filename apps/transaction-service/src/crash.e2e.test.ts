import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { RemoteCallError } from '@bank/platform';
import { createTestDatabase, freePort, TEST_REDIS_URL, testQueuePrefix, TEST_TLS_DIR, testIdentity } from '@bank/testkit';
import { LedgerClient, resultName } from './support/ledger-client';
import { exited, startLedgerProcess } from './support/service-process';

const CALLERS = 32;
const KILL_AFTER_MS = 1_500;


it('after a SIGKILL mid-flight, every sent transfer exists exactly once or not at all, and the ledger balances', async () => {
  const db = await createTestDatabase('ledger_crash');
  const port = await freePort();
  const env = { LEDGER_DATABASE_URL: db.url, BANK_TLS_DIR: TEST_TLS_DIR, REDIS_URL: TEST_REDIS_URL, REDIS_QUEUE_PREFIX: testQueuePrefix('crash'), LOG_LEVEL: 'warn' };
  let service = await startLedgerProcess(env, port);
  let client = new LedgerClient(`127.0.0.1:${port}`, testIdentity('bank-cli'));
  try {
    const accounts = Array.from({ length: 20 }, () => newId());
    await client.createAccounts(accounts.map((id) => ({ id, currency: 'USD', kind: ledgerV1.AccountKind.ACCOUNT_KIND_CUSTOMER, flags: 1 })));
    await client.createTransfers(accounts.map((id) => ({ id: newId(), debitAccountId: systemAccountId('USD', 'settlement'), creditAccountId: id, amount: 1_000_000_000n, currency: 'USD' })));

    type Sent = { id: string; debitAccountId: string; creditAccountId: string; amount: bigint; currency: string };
    const sent: Sent[] = [];
    const acknowledged = new Set<string>();
    let failures = 0;
    const pick = () => accounts[Math.floor(Math.random() * accounts.length)] as string;
    const callers = Array.from({ length: CALLERS }, async () => {
      for (;;) {
        const batch: Sent[] = Array.from({ length: 1 + Math.floor(Math.random() * 20) }, () => {
          const d = pick();
          let c = pick();
          while (c === d) c = pick();
          return { id: newId(), debitAccountId: d, creditAccountId: c, amount: BigInt(1 + Math.floor(Math.random() * 1_000)), currency: 'USD' };
        });
        sent.push(...batch);
        try {
          const res = await client.createTransfers(batch, 5_000);
          res.outcomes.forEach((o, i) => resultName(o.result) === 'ok' && acknowledged.add((batch[i] as Sent).id));
        } catch (e) {
          if (!(e instanceof RemoteCallError)) throw e;
          failures++;
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
    service.kill('SIGKILL');
    await Promise.all(callers);
    await exited(service);
    expect(failures).toBeGreaterThan(0);
    expect(acknowledged.size).toBeGreaterThan(100);
    client.close();

    service = await startLedgerProcess(env, port);
    client = new LedgerClient(`127.0.0.1:${port}`, testIdentity('bank-cli'));
    let present = 0;
    for (const t of sent) {
      const found = await client.getTransfer(t.id).then(
        () => true,
        (e: unknown) => {
          if (e instanceof RemoteCallError && e.code === 'TRANSFER_NOT_FOUND') return false;
          throw e;
        },
      );
      if (acknowledged.has(t.id)) expect(found).toBe(true);
      if (found) present++;
    }
    expect(present).toBeGreaterThanOrEqual(acknowledged.size);
    expect((await client.verify()).violations).toEqual([]);

    // The clients retry everything they sent: what was applied answers `exists`, the rest applies now.
    const results: string[] = [];
    for (let i = 0; i < sent.length; i += 1_000) {
      const res = await client.createTransfers(sent.slice(i, i + 1_000));
      results.push(...res.outcomes.map((o) => resultName(o.result)));
    }
    expect(results.filter((r) => r === 'exists')).toHaveLength(present);
    expect(results.filter((r) => r === 'ok')).toHaveLength(sent.length - present);
    const report = await client.verify();
    expect(report.violations).toEqual([]);
    expect(Number(report.transfersChecked)).toBe(sent.length + accounts.length);
  } finally {
    client.close();
    service.kill('SIGTERM');
    await exited(service);
    await db.drop();
  }
}, 120_000);
