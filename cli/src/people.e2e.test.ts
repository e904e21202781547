import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { newId } from '@bank/kernel';
import { TEST_CUSTOMER_PASSWORD, callApi, signInOperator, signUpCustomer, startTestBank, waitFor, type TestBank } from '@bank/testkit';

// bank-cli's commands for people and money against the real services: seed (and its re-run),
// users show, roles, sessions revoke, keys list|rotate, saga trigger payment, dead-letters drop.
// Every command's --json output is parsed here; what it did is checked through the gateway.

let bank: TestBank;
let operator: string;

beforeAll(async () => {
  bank = await startTestBank({ label: 'cli_people', gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000' } });
  operator = await signInOperator(bank);
}, 90_000);

afterAll(async () => {
  await bank?.stop();
}, 30_000);

interface SeedReport {
  users: { email: string; userId: string }[];
  password: string;
  created: { users: number; accounts: number; deposits: number };
  accounts: number;
  payments: { completed: number; failed: number; cancelled: number; pending: number; replayed: number; failureCodes: Record<string, number> };
}
interface AuditEntry {
  service: string;
  command: string;
  reason: string;
  ok: boolean;
  arguments: Record<string, unknown>;
}
const login = (email: string, password = TEST_CUSTOMER_PASSWORD) => callApi(bank.url, 'POST', '/v1/auth/login', { email, password });
const accountsOf = async (token: string) => (await callApi(bank.url, 'GET', '/v1/accounts', undefined, token)).body!.data as { id: string; currency: string; balance: { posted: number; pending: number } }[];
const audit = async () => (await bank.cli<{ entries: AuditEntry[] }>('audit', 'list')).body.entries;

describe('bank-cli seed', () => {
  it('makes users, accounts, deposits and payments through the services, and a re-run changes nothing', async () => {
    const args = ['seed', '--users', '6', '--accounts-per-user', '2', '--deposit', '50000', '--currency', 'GBP', '--payments', '40', '--seed', '7'];
    const first = await bank.cli<SeedReport>('--reason', 'load test data', ...args);
    expect(first.code).toBe(0);
    expect(first.body.users.map((u) => u.email)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `seed-${i}@seed.bank.test`));
    expect(first.body.created).toEqual({ users: 6, accounts: 12, deposits: 12 });
    const p = first.body.payments;
    expect(p.completed + p.failed).toBe(40);
    expect([p.pending, p.cancelled, p.replayed]).toEqual([0, 0, 0]);
    expect(p.completed).toBeGreaterThan(0);

    // The logins it printed work at the gateway, and the money is there: 12 deposits of 500.00,
    // moved about but neither made nor lost.
    let total = 0;
    for (const u of first.body.users) {
      const l = await login(u.email, first.body.password);
      expect(l.status).toBe(200);
      const accounts = await accountsOf(l.body!.accessToken as string);
      expect(accounts.map((a) => a.currency)).toEqual(['GBP', 'GBP']);
      for (const a of accounts) {
        expect(a.balance.pending).toBe(0);
        total += a.balance.posted;
      }
    }
    expect(total).toBe(12 * 50_000);

    const again = await bank.cli<SeedReport>(...args);
    expect(again.code).toBe(0);
    expect(again.body.created).toEqual({ users: 0, accounts: 0, deposits: 0 });
    expect(again.body.users).toEqual(first.body.users);
    expect(again.body.payments).toMatchObject({ completed: p.completed, failed: p.failed, replayed: 40 });

    const verify = await bank.cli<{ problems: number }>('verify');
    expect([verify.code, verify.body.problems]).toEqual([0, 0]);
    const seeds = (await audit()).filter((e) => e.command === 'seed');
    expect(seeds.map((e) => [e.service, e.ok, e.reason, e.arguments.users, e.arguments.payments])).toEqual([
      ['payment-service', true, 'load test data', 6, 40],
      ['payment-service', true, '', 6, 40],
    ]);
  }, 120_000);

  it('makes the small demo set, and refuses bad usage with exit 2 before doing anything', async () => {
    const demo = await bank.cli<SeedReport>('seed', '--demo');
    expect(demo.code).toBe(0);
    expect(demo.body.users.map((u) => u.email)).toEqual(['alice@demo.bank.test', 'bob@demo.bank.test', 'carol@demo.bank.test']);
    expect((await login('alice@demo.bank.test', demo.body.password)).status).toBe(200);
    for (const bad of [['seed'], ['seed', '--demo', '--users', '3'], ['seed', '--users', '0'], ['seed', '--users', '2', '--deposit', '12.50'], ['seed', '--users', '2', '--payments', '5'], ['seed', '--users', '2', '--currency', 'XXX']]) {
      const r = await bank.cli<{ error: { exitCode: number } }>(...bad);
      expect([bad, r.code, r.body.error.exitCode]).toEqual([bad, 2, 2]);
    }
  }, 60_000);
});

describe('bank-cli users, roles, sessions and keys', () => {
  it("shows a user's record, accounts and balances, and never the password hash", async () => {
    const ada = await signUpCustomer(bank.url);
    const account = (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'EUR' }, ada.token)).body!.id as string;
    await waitFor(async () => ((await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: account, amount: 1_234, currency: 'EUR', reference: 'cash' }, operator, { 'Idempotency-Key': `d-${account}` })).status === 201 ? true : undefined), 20_000, 200);
    const shown = await bank.cli<{ user: Record<string, unknown>; accounts: Record<string, unknown>[] }>('users', 'show', ada.email);
    expect(shown.code).toBe(0);
    expect(shown.body.user).toMatchObject({ userId: ada.userId, email: ada.email, fullName: 'Ada Lovelace', roles: ['customer'], activeSessions: 1, failedLogins: 0, lockedUntil: null });
    expect(shown.body.accounts).toEqual([expect.objectContaining({ id: account, currency: 'EUR', status: 'active', balance: '1234', held: '0' })]);
    expect(JSON.stringify(shown.body)).not.toMatch(/\$2[aby]\$/);
    const nobody = await bank.cli<{ error: { message: string } }>('users', 'show', `nobody-${newId()}@example.com`);
    expect([nobody.code, nobody.body.error.message]).toEqual([1, expect.stringContaining('no such user')]);
  }, 60_000);

  it('revokes every session of a user: their refresh tokens stop working at the gateway', async () => {
    const bob = await signUpCustomer(bank.url);
    const second = (await login(bob.email)).body!.refreshToken as string;
    const revoked = await bank.cli<{ userId: string; revokedSessions: number; accessTokenTtlSeconds: number }>('--reason', 'phone stolen', 'sessions', 'revoke', bob.email);
    expect([revoked.code, revoked.body]).toEqual([0, { userId: bob.userId, revokedSessions: 2, accessTokenTtlSeconds: 900 }]);
    for (const refreshToken of [bob.refreshToken, second]) expect((await callApi(bank.url, 'POST', '/v1/auth/refresh', { refreshToken })).status).toBe(401);
    expect((await bank.cli<{ user: { activeSessions: number } }>('users', 'show', bob.email)).body.user.activeSessions).toBe(0);
    // A new login is a new session.
    expect((await login(bob.email)).status).toBe(200);
    expect((await audit()).filter((e) => e.command === 'sessions revoke').map((e) => [e.service, e.reason, e.ok])).toEqual([['auth-service', 'phone stolen', true]]);
  }, 60_000);

  it('grants roles that new tokens carry, and refuses an unknown role', async () => {
    const cy = await signUpCustomer(bank.url);
    const set = await bank.cli<{ userId: string; roles: string[] }>('roles', 'set', '--email', cy.email, '--roles', 'customer,operator');
    expect([set.code, set.body]).toEqual([0, { userId: cy.userId, roles: ['customer', 'operator'] }]);
    const token = (await login(cy.email)).body!.accessToken as string;
    expect((jwt.decode(token) as { roles: string[] }).roles).toEqual(['customer', 'operator']);
    expect((await bank.cli('roles', 'set', '--email', cy.email, '--roles', 'root')).code).toBe(1);
  }, 30_000);

  it('lists and rotates the signing keys: the new key is published before it signs, and tokens keep verifying', async () => {
    type Key = { kid: string; signing: boolean; published: boolean; retiredAt: string | null };
    const before = await bank.cli<{ keys: Key[] }>('keys', 'list');
    expect(before.code).toBe(0);
    const signing = before.body.keys.filter((k) => k.signing);
    expect(signing).toHaveLength(1);
    const rotated = await bank.cli<{ kid: string; signsFrom: string }>('--reason', 'quarterly', 'keys', 'rotate');
    expect(rotated.code).toBe(0);
    expect(Date.parse(rotated.body.signsFrom)).toBeGreaterThan(Date.now());
    const after = (await bank.cli<{ keys: Key[] }>('keys', 'list')).body.keys;
    expect(after.find((k) => k.kid === rotated.body.kid)).toMatchObject({ signing: false, published: true, retiredAt: null });
    expect(after.find((k) => k.kid === signing[0]!.kid)).toMatchObject({ signing: true, published: true, retiredAt: rotated.body.signsFrom });
    // Until then the old key signs, and the gateway takes its tokens as ever.
    const dee = await signUpCustomer(bank.url);
    expect(jwt.decode(dee.token, { complete: true })?.header.kid).toBe(signing[0]!.kid);
    expect((await callApi(bank.url, 'GET', '/v1/me', undefined, dee.token)).status).toBe(200);
    // From then on the new key signs; the gateway, which has not seen it, fetches it and takes
    // the new tokens, and the old ones still (the old key stays published while they live).
    await new Promise((r) => setTimeout(r, Date.parse(rotated.body.signsFrom) - Date.now() + 100));
    const fresh = (await login(dee.email)).body!.accessToken as string;
    expect(jwt.decode(fresh, { complete: true })?.header.kid).toBe(rotated.body.kid);
    expect((await callApi(bank.url, 'GET', '/v1/me', undefined, fresh)).status).toBe(200);
    expect((await callApi(bank.url, 'GET', '/v1/me', undefined, dee.token)).status).toBe(200);
    expect(((await callApi(bank.url, 'GET', '/.well-known/jwks.json')).body!.keys as { kid: string }[]).map((k) => k.kid)).toEqual(expect.arrayContaining([signing[0]!.kid, rotated.body.kid]));
    expect((await audit()).filter((e) => e.command === 'keys rotate').map((e) => [e.service, e.reason, e.ok])).toEqual([['auth-service', 'quarterly', true]]);
  }, 60_000);
});

describe('bank-cli saga trigger payment and dead-letters drop', () => {
  it("pays from a customer's account on their behalf, idempotently by key, and audits it", async () => {
    const [eve, fay] = [await signUpCustomer(bank.url), await signUpCustomer(bank.url)];
    const [from, to] = [
      (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, eve.token)).body!.id as string,
      (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, fay.token)).body!.id as string,
    ];
    await waitFor(async () => ((await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: from, amount: 10_000, currency: 'USD', reference: 'cash' }, operator, { 'Idempotency-Key': `d-${from}` })).status === 201 ? true : undefined), 20_000, 200);
    const key = `refund-${newId()}`;
    const args = ['saga', 'trigger', 'payment', '--from', from, '--to', to, '--amount', '2500', '--currency', 'usd', '--description', 'refund', '--idempotency-key', key];
    type Triggered = { payment: { id: string; status: string; amount: string }; replayed: boolean };
    const paid = await bank.cli<Triggered>('--reason', 'ticket 4411', ...args);
    expect(paid.code).toBe(0);
    expect(paid.body).toMatchObject({ payment: { status: 'completed', amount: '2500' }, replayed: false });
    const again = await bank.cli<Triggered>(...args);
    expect(again.body).toMatchObject({ payment: { id: paid.body.payment.id }, replayed: true });
    // The payment is the customer's: they see it, and the money moved once.
    expect((await callApi(bank.url, 'GET', `/v1/payments/${paid.body.payment.id}`, undefined, eve.token)).body).toMatchObject({ status: 'completed', sourceAccountId: from });
    expect(((await accountsOf(eve.token))[0]!).balance.posted).toBe(7_500);
    expect(((await accountsOf(fay.token))[0]!).balance.posted).toBe(2_500);
    const tooMuch = await bank.cli<Triggered>('saga', 'trigger', 'payment', '--from', from, '--to', to, '--amount', '999999', '--currency', 'USD');
    expect([tooMuch.code, tooMuch.body.payment.status]).toEqual([0, 'failed']);
    expect((await bank.cli('saga', 'trigger', 'payment', '--from', from, '--to', to, '--amount', '-5', '--currency', 'USD')).code).toBe(2);
    expect((await bank.cli('saga', 'trigger', 'payment', '--from', newId(), '--to', to, '--amount', '5', '--currency', 'USD')).code).toBe(1);
    const entries = (await audit()).filter((e) => e.command === 'saga trigger payment');
    expect(entries.map((e) => [e.service, e.reason, e.ok, e.arguments.sourceAccountId, e.arguments.amount])).toEqual([
      ['payment-service', 'ticket 4411', true, from, '2500'],
      ['payment-service', '', true, from, '2500'],
      ['payment-service', '', true, from, '999999'],
      ['payment-service', '', false, expect.any(String), '5'],
    ]);
  }, 60_000);

  it('drops a dead letter only with a reason, after which it is no longer open nor requeueable', async () => {
    const pg = new Client({ connectionString: bank.databases.user });
    await pg.connect();
    try {
      const id = newId();
      const eventId = newId();
      const event = { id: eventId, type: 'payment.completed', aggregateId: newId(), sequence: 1, occurredAt: new Date().toISOString(), traceparent: '', payload: {} };
      await pg.query("INSERT INTO dead_letter (id, consumer, event_id, event, error, attempts) VALUES ($1, 'user-service', $2, $3, 'Error: boom', 6)", [id, eventId, JSON.stringify(event)]);
      const listed = await bank.cli<{ deadLetters: { id: string; eventId: string; type: string }[] }>('dead-letters', 'list', '--service', 'user');
      expect(listed.body.deadLetters).toEqual([expect.objectContaining({ id, eventId, type: 'payment.completed' })]);
      expect((await bank.cli('dead-letters', 'drop', id, '--service', 'user')).code).toBe(2);
      const dropped = await bank.cli<{ dropped: string }>('--reason', 'made by hand', 'dead-letters', 'drop', id, '--service', 'user');
      expect([dropped.code, dropped.body]).toEqual([0, { dropped: id }]);
      expect((await bank.cli<{ deadLetters: unknown[] }>('dead-letters', 'list', '--service', 'user')).body.deadLetters).toEqual([]);
      expect((await bank.cli('dead-letters', 'requeue', id, '--service', 'user')).code).toBe(1);
      expect((await bank.cli('--reason', 'again', 'dead-letters', 'drop', id, '--service', 'user')).code).toBe(1);
      expect((await pg.query('SELECT drop_reason FROM dead_letter WHERE id = $1', [id])).rows).toEqual([{ drop_reason: 'made by hand' }]);
      const queues = await bank.cli<{ queues: { consumer: string; waiting: number }[] }>('queues');
      expect(queues.body.queues.map((q) => q.consumer)).toEqual(expect.arrayContaining(['user-service', 'transaction-service', 'payment-service', 'notification-service']));
    } finally {
      await pg.end();
    }
  }, 30_000);
});
