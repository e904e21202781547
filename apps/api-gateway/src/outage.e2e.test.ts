import { setTimeout as sleep } from 'node:timers/promises';
import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { GrpcCaller } from '@bank/platform';
import { blockDatabase, callApi, querySql, signUpCustomer, startTestBank, startTestRedis, waitFor, type TestBank, type TestRedis, testClient } from '@bank/testkit';

// The bank as real processes, each with its own database, on a redis-server of the test's own:
// parts are taken away for real while customers keep using it through the gateway.

/** How long each dependency stays away: long enough for every retry, reconnect and back-off path. */
const OUTAGE_MS = 30_000;
const CUSTOMER_PAUSE_MS = 500;
const CATCH_UP_MS = 60_000;

let redis: TestRedis;
let bank: TestBank;
let ledger: ledgerV1.LedgerServiceClient;
const caller = new GrpcCaller();

beforeAll(async () => {
  redis = await startTestRedis();
  bank = await startTestBank({ label: 'outage', redisUrl: redis.url, gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000', GATEWAY_RATE_LIMIT_PER_MIN: '10000' } });
  ledger = testClient(ledgerV1.LedgerServiceClient, bank.addresses.ledger);
}, 90_000);

afterAll(async () => {
  ledger?.close();
  await bank?.stop();
  await redis?.dispose();
});


const count = async (url: string, text: string, values: unknown[] = []) => Number((await querySql<{ n: string }>(url, text, values))[0]?.n);

async function openAccount(token: string): Promise<string> {
  const res = await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, token);
  if (res.status !== 201) throw new Error(`POST /v1/accounts answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body!.id as string;
}

async function ledgerAccounts(ids: readonly string[]): Promise<ledgerV1.Account[]> {
  return (await caller.unary<ledgerV1.LookupAccountsResponse>((md, o, cb) => ledger.lookupAccounts({ ids: [...ids] }, md, o, cb))).accounts;
}

async function transfer(debitAccountId: string, creditAccountId: string, amount: bigint): Promise<string> {
  const res = await caller.unary<ledgerV1.CreateTransfersResponse>((md, o, cb) =>
    ledger.createTransfers(ledgerV1.CreateTransfersRequest.fromPartial({ transfers: [{ id: newId(), debitAccountId, creditAccountId, amount, currency: 'USD' }] }), md, o, cb),
  );
  return ledgerV1.createTransferResultToJSON(res.outcomes[0]!.result);
}

/** Every outbox drains (each relay resumes after its own back-off) and nothing is dead-lettered anywhere. */
async function eventPathIsClean(): Promise<void> {
  // The services this bank runs (notification-service is not started here: its database stays empty).
  for (const url of [bank.databases.auth, bank.databases.user, bank.databases.ledger, bank.databases.payment]) {
    await waitFor(async () => (await count(url, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')) === 0, CATCH_UP_MS, 250);
    expect(await count(url, 'SELECT count(*) AS n FROM dead_letter')).toBe(0);
  }
}

describe('the bank through outages of its dependencies', () => {
  it('keeps serving customers while Redis is stopped for 30 s (signups, accounts, payments), and afterwards applies every event exactly once', async () => {
    const payer = await signUpCustomer(bank.url);
    const [from, to] = [await openAccount(payer.token), await openAccount(payer.token)] as [string, string];
    await waitFor(async () => (await ledgerAccounts([from, to])).length === 2, CATCH_UP_MS, 100);
    expect(await transfer(systemAccountId('USD', 'settlement'), from, 1_000_000n)).toBe('CREATE_TRANSFER_RESULT_OK');

    await redis.stop();
    const customers = [payer];
    const opened = [from, to];
    let moved = 0n;
    const until = Date.now() + OUTAGE_MS;
    while (Date.now() < until) {
      // Signing up, logging in and opening an account need no Redis: their events wait in the outbox.
      const c = await signUpCustomer(bank.url);
      customers.push(c);
      opened.push(await openAccount(c.token));
      // Money moves: a payment through the gateway (its saga needs no Redis) and a ledger transfer.
      const paid = await callApi(bank.url, 'POST', '/v1/payments', { sourceAccountId: from, destinationAccountId: to, amount: 2, currency: 'USD' }, payer.token, { 'Idempotency-Key': newId(), Prefer: 'wait=10' });
      // A service that died with Redis would show here, next to the payment it left pending.
      expect([paid.status, paid.body?.status, bank.exits]).toEqual([201, 'completed', []]);
      expect(await transfer(from, to, 1n)).toBe('CREATE_TRANSFER_RESULT_OK');
      moved += 3n;
      const view = await callApi(bank.url, 'GET', `/v1/accounts/${from}`, undefined, payer.token);
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({ balance: { posted: Number(1_000_000n - moved) } });
      await sleep(CUSTOMER_PAUSE_MS);
    }
    expect(bank.exits).toEqual([]);
    expect(customers.length).toBeGreaterThan(10);
    await redis.start();

    // Every account reaches the ledger and every signup its profile, once.
    await waitFor(async () => (await ledgerAccounts(opened)).length === opened.length, CATCH_UP_MS, 250);
    for (const c of customers) await waitFor(async () => (await callApi(bank.url, 'GET', '/v1/me', undefined, c.token)).status === 200, CATCH_UP_MS, 250);
    expect(await count(bank.databases.ledger, "SELECT count(*) AS n FROM ledger_accounts WHERE kind = 'customer'")).toBe(opened.length);
    expect(await count(bank.databases.ledger, "SELECT count(*) AS n FROM inbox WHERE consumer = 'transaction-service'")).toBe(opened.length);
    expect(await count(bank.databases.user, "SELECT count(*) AS n FROM inbox WHERE consumer = 'user-service'")).toBe(customers.length);
    expect(await count(bank.databases.user, 'SELECT count(*) AS n FROM profiles')).toBe(customers.length);
    await waitFor(async () => (await count(bank.databases.auth, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')) === 0, CATCH_UP_MS, 250);
    await eventPathIsClean();
    const [f, t] = await ledgerAccounts([from, to]);
    expect([f?.debitsPosted, t?.creditsPosted]).toEqual([moved, moved]);
    expect(bank.exits).toEqual([]);
  }, 180_000);

  it("applies every event queued while a consumer's database is unreachable for 30 s once it returns; none is lost or dead-lettered", async () => {
    const c = await signUpCustomer(bank.url);
    const inboxBefore = await count(bank.databases.ledger, "SELECT count(*) AS n FROM inbox WHERE consumer = 'transaction-service'");
    // transaction-service consumes account.opened; its database goes away.
    const unblock = await blockDatabase(bank.databases.ledger);
    const opened: string[] = [];
    try {
      const until = Date.now() + OUTAGE_MS;
      while (Date.now() < until) {
        // Opening an account depends on user-service alone (the ledger learns of it by event).
        opened.push(await openAccount(c.token));
        await sleep(CUSTOMER_PAUSE_MS);
      }
    } finally {
      await unblock();
    }
    expect(opened.length).toBeGreaterThan(10);
    await waitFor(async () => (await ledgerAccounts(opened).catch(() => [])).length === opened.length, CATCH_UP_MS, 250);
    expect(await count(bank.databases.ledger, "SELECT count(*) AS n FROM inbox WHERE consumer = 'transaction-service'")).toBe(inboxBefore + opened.length);
    await eventPathIsClean();
    expect(bank.exits).toEqual([]);
  }, 180_000);

  it("fails fast with 503 while a producer's database is unreachable, and recovers without a restart", async () => {
    const c = await signUpCustomer(bank.url);
    const unblock = await blockDatabase(bank.databases.user);
    try {
      const startedMs = Date.now();
      const res = await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, c.token);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      // Failed at once, not after the gateway's call deadline (5 s) ran out behind a dead pool.
      expect(Date.now() - startedMs).toBeLessThan(3_000);
    } finally {
      await unblock();
    }
    const id = await waitFor(async () => openAccount(c.token).catch(() => undefined), CATCH_UP_MS, 250);
    await waitFor(async () => (await ledgerAccounts([id])).length === 1, CATCH_UP_MS, 250);
    expect(bank.exits).toEqual([]);
  }, 120_000);
});
