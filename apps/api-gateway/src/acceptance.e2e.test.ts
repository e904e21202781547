import { newId } from '@bank/kernel';
import { callApi, signInOperator, signUpCustomer, startTestBank, waitFor, type TestBank } from '@bank/testkit';

// What a client of the bank checks, driven only through API.md: 16 concurrent clients make
// hundreds of payments among a few users, some beyond the payer's balance, some sent twice with
// the same key; then every payment has ended, no money was created or lost, no balance is
// negative or held, and each statement's posted entries sum to its balance.

const CLIENTS = 16;
const PAYMENTS_PER_CLIENT = 20;
const USERS = 4;
const FUNDING = 50_000;
const SETTLE_MS = 60_000;
const PAGE = 100;

let bank: TestBank;
let operatorToken: string;

beforeAll(async () => {
  bank = await startTestBank({ label: 'accept', gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000', GATEWAY_RATE_LIMIT_PER_MIN: '100000' } });
  operatorToken = await signInOperator(bank);
}, 90_000);

afterAll(async () => {
  await bank?.stop();
});

interface Entry {
  direction: 'debit' | 'credit';
  amount: number;
  status: 'pending' | 'posted' | 'voided';
}

async function statement(token: string, account: string): Promise<Entry[]> {
  const all: Entry[] = [];
  let cursor = '';
  for (;;) {
    const res = await callApi(bank.url, 'GET', `/v1/accounts/${account}/transactions?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, token);
    expect(res.status).toBe(200);
    all.push(...(res.body!.data as Entry[]));
    if (res.body!.nextCursor === null) return all;
    cursor = res.body!.nextCursor as string;
  }
}

it('16 concurrent clients, hundreds of payments with overdrafts and retried keys: every payment ends and the money adds up', async () => {
  const users = await Promise.all(
    Array.from({ length: USERS }, async () => {
      const who = await signUpCustomer(bank.url);
      const account = (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, who.token)).body!.id as string;
      expect((await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: account, amount: FUNDING, currency: 'USD', reference: 'funding' }, operatorToken, { 'Idempotency-Key': newId() })).status).toBe(201);
      return { who, account };
    }),
  );
  const ids = new Set<string>();
  const startedMs = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let n = 0; n < PAYMENTS_PER_CLIENT; n++) {
        const from = users[(client + n) % USERS]!;
        const to = users[(client + n + 1 + (n % (USERS - 1))) % USERS]!;
        // Some amounts are far beyond any balance: those payments fail with INSUFFICIENT_FUNDS.
        const amount = n % 9 === 0 ? FUNDING * 10 : 1 + ((client * 31 + n * 17) % 3_000);
        const key = newId();
        const body = { sourceAccountId: from.account, destinationAccountId: to.account, amount, currency: 'USD' };
        const send = () => callApi(bank.url, 'POST', '/v1/payments', body, from.who.token, { 'Idempotency-Key': key });
        const first = await send();
        expect([201, 202]).toContain(first.status);
        ids.add(first.body!.id as string);
        if (n % 4 === 0) {
          // A retry with the same key: the same payment, never a second one.
          const again = await send();
          expect([again.status, again.body!.id]).toEqual([first.status, first.body!.id]);
          expect(again.headers.get('idempotent-replayed')).toBe('true');
        }
      }
    }),
  );
  const acceptedMs = Date.now() - startedMs;
  expect(ids.size).toBe(CLIENTS * PAYMENTS_PER_CLIENT);

  const owner = users[0]!;
  const outcomes = await waitFor(async () => {
    const seen = new Map<string, { status: string; failureCode: string | null }>();
    for (const u of users) {
      let cursor = '';
      for (;;) {
        const res = await callApi(bank.url, 'GET', `/v1/payments?accountId=${u.account}&limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, u.who.token);
        for (const p of res.body!.data as { id: string; status: string; failureCode: string | null }[]) seen.set(p.id, p);
        if (res.body!.nextCursor === null) break;
        cursor = res.body!.nextCursor as string;
      }
    }
    return [...seen.values()].every((p) => p.status !== 'pending') && seen.size === ids.size ? seen : undefined;
  }, SETTLE_MS, 500);
  const settledMs = Date.now() - startedMs;
  const statuses = [...outcomes.values()];
  expect(statuses.filter((p) => p.status === 'completed').length).toBeGreaterThan(0);
  for (const p of statuses) {
    if (p.status === 'failed') expect(p.failureCode).toBe('INSUFFICIENT_FUNDS');
    else expect(p).toEqual({ ...p, status: 'completed', failureCode: null });
  }

  let total = 0;
  for (const u of users) {
    const balance = (await callApi(bank.url, 'GET', `/v1/accounts/${u.account}`, undefined, u.who.token)).body!.balance as { posted: number; pending: number };
    expect(balance.pending).toBe(0);
    expect(balance.posted).toBeGreaterThanOrEqual(0);
    const lines = await statement(u.who.token, u.account);
    const posted = lines.filter((l) => l.status === 'posted').reduce((sum, l) => sum + (l.direction === 'credit' ? l.amount : -l.amount), 0);
    expect(lines.filter((l) => l.status === 'pending')).toEqual([]);
    expect(posted).toBe(balance.posted);
    total += balance.posted;
  }
  expect(total).toBe(USERS * FUNDING);
  expect(bank.exits).toEqual([]);
  // Figures for the reader, not a test of speed (that is `npm run bench*`).
  process.stdout.write(`acceptance: ${ids.size} payments accepted in ${acceptedMs} ms, all ended after ${settledMs} ms (${owner.account.slice(0, 8)}…)\n`);
}, 180_000);
