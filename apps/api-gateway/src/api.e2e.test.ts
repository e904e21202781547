import jwt from 'jsonwebtoken';
import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { GrpcCaller } from '@bank/platform';
import { TEST_CUSTOMER_PASSWORD, callApi, signUpCustomer, startTestBank, waitFor, type TestBank, testClient } from '@bank/testkit';

let bank: TestBank;
let base: string;
let ledgerAddr: string;
const caller = new GrpcCaller();

beforeAll(async () => {
  bank = await startTestBank({ label: 'api', gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000', GATEWAY_RATE_LIMIT_PER_MIN: '10000' } });
  base = bank.url;
  ledgerAddr = bank.addresses.ledger;
}, 90_000);

afterAll(async () => {
  await bank.stop();
});

const api = (method: string, url: string, body?: unknown, token?: string, headers: Record<string, string> = {}) => callApi(base, method, url, body, token, headers);
const customer = () => signUpCustomer(base);
const PASSWORD = TEST_CUSTOMER_PASSWORD;

async function deposit(accountId: string, amount: bigint): Promise<string> {
  // Money in from the bank's settlement account, as the deposits issue will do through payment-service.
  const { systemAccountId } = await import('@bank/ledger-core');
  const client = testClient(ledgerV1.LedgerServiceClient, ledgerAddr);
  try {
    const res = await caller.unary<ledgerV1.CreateTransfersResponse>((md, o, cb) =>
      client.createTransfers(ledgerV1.CreateTransfersRequest.fromPartial({ transfers: [{ id: newId(), debitAccountId: systemAccountId('EUR', 'settlement'), creditAccountId: accountId, amount, currency: 'EUR', description: 'deposit' }] }), md, o, cb),
    );
    return ledgerV1.createTransferResultToJSON(res.outcomes[0]!.result);
  } finally {
    client.close();
  }
}

describe('the public API through the gateway, with real services', () => {
  it('signs up, refusing weak passwords, unknown fields and taken emails with problem+json', async () => {
    const email = `s${newId().slice(-12)}@example.com`;
    const weak = await api('POST', '/v1/auth/signup', { email, password: 'short', fullName: 'Ada' });
    expect(weak.status).toBe(400);
    expect(weak.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(weak.body).toMatchObject({ status: 400, code: 'WEAK_PASSWORD' });
    const extra = await api('POST', '/v1/auth/signup', { email, password: PASSWORD, fullName: 'Ada', roles: ['admin'] });
    expect(extra.status).toBe(400);
    expect(extra.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'roles', message: 'is not a field of this request' }] });
    expect((await api('POST', '/v1/auth/signup', { email, password: PASSWORD, fullName: 'Ada' })).status).toBe(201);
    const again = await api('POST', '/v1/auth/signup', { email: email.toUpperCase(), password: PASSWORD, fullName: 'Ada' });
    expect([again.status, again.body?.code]).toEqual([409, 'EMAIL_TAKEN']);
  });

  it('logs in, refuses bad credentials and bad tokens with 401 and a challenge, and serves /me', async () => {
    const c = await customer();
    const wrong = await api('POST', '/v1/auth/login', { email: c.email, password: 'not the password!' });
    expect([wrong.status, wrong.body?.code, wrong.headers.get('www-authenticate')]).toEqual([401, 'INVALID_CREDENTIALS', 'Bearer realm="bank"']);
    const me = await api('GET', '/v1/me', undefined, c.token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: c.userId, email: c.email, fullName: 'Ada Lovelace', roles: ['customer'] });
    const none = await api('GET', '/v1/me');
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="bank"']);
    const tampered = c.token.slice(0, -3) + (c.token.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await api('GET', '/v1/me', undefined, tampered)).status).toBe(401);
    const unsigned = jwt.sign({ sub: c.userId, roles: ['admin'], iss: 'https://bank.local', aud: 'bank-api' }, '', { algorithm: 'none' });
    expect((await api('GET', '/v1/me', undefined, unsigned)).status).toBe(401);
    const patched = await api('PATCH', '/v1/me', { phone: '+4915112345678' }, c.token);
    expect(patched.body).toMatchObject({ phone: '+4915112345678', fullName: 'Ada Lovelace' });
    expect((await api('PATCH', '/v1/me', { email: 'x@example.com' }, c.token)).status).toBe(400);
    const jwks = await api('GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    expect((jwks.body!.keys as { kid: string }[]).map((k) => k.kid)).toContain(jwt.decode(c.token, { complete: true })?.header.kid);
  });

  it('rotates refresh tokens; a reused one is refused and logout ends the session', async () => {
    const c = await customer();
    const next = await api('POST', '/v1/auth/refresh', { refreshToken: c.refreshToken });
    expect(next.status).toBe(200);
    expect((await api('POST', '/v1/auth/refresh', { refreshToken: c.refreshToken })).status).toBe(401);
    expect((await api('POST', '/v1/auth/refresh', { refreshToken: next.body!.refreshToken })).status).toBe(401);
    const other = await api('POST', '/v1/auth/login', { email: c.email, password: PASSWORD });
    expect((await api('POST', '/v1/auth/logout', { refreshToken: other.body!.refreshToken })).status).toBe(204);
    expect((await api('POST', '/v1/auth/refresh', { refreshToken: other.body!.refreshToken })).status).toBe(401);
  });

  it('opens accounts, shows balances and statements from the ledger, and hides other people’s accounts', async () => {
    const alice = await customer();
    const bob = await customer();
    expect((await api('POST', '/v1/accounts', { currency: 'XXX' }, alice.token)).body).toMatchObject({ status: 400 });
    expect((await api('POST', '/v1/accounts', { currency: 'EUR', balance: 1000 }, alice.token)).status).toBe(400);
    const opened = await api('POST', '/v1/accounts', { currency: 'EUR' }, alice.token, { 'Idempotency-Key': 'open-eur' });
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({ ownerId: alice.userId, currency: 'EUR', status: 'active', balance: { posted: 0, pending: 0, available: 0 } });
    const id = opened.body!.id as string;
    const again = await api('POST', '/v1/accounts', { currency: 'EUR' }, alice.token, { 'Idempotency-Key': 'open-eur' });
    expect([again.status, again.headers.get('idempotent-replayed'), again.body?.id]).toEqual([201, 'true', id]);
    expect(opened.headers.get('idempotent-replayed')).toBeNull();
    await waitFor(async () => (await deposit(id, 2_550n)) === 'CREATE_TRANSFER_RESULT_OK' || undefined, 20_000, 100);
    const shown = await api('GET', `/v1/accounts/${id}`, undefined, alice.token);
    expect(shown.body).toMatchObject({ id, balance: { posted: 2550, pending: 0, available: 2550 } });
    const list = await api('GET', '/v1/accounts?limit=10', undefined, alice.token);
    expect(list.body).toMatchObject({ nextCursor: null });
    expect((list.body!.data as { id: string }[]).map((a) => a.id)).toEqual([id]);
    const statement = await api('GET', `/v1/accounts/${id}/transactions`, undefined, alice.token);
    expect(statement.body).toMatchObject({ data: [{ direction: 'credit', amount: 2550, currency: 'EUR', balanceAfter: 2550, status: 'posted', description: 'deposit', paymentId: null }], nextCursor: null });
    expect((await api('GET', `/v1/accounts/${id}`, undefined, bob.token)).status).toBe(404);
    expect((await api('GET', `/v1/accounts/${id}/transactions`, undefined, bob.token)).status).toBe(404);
    expect((await api('GET', '/v1/accounts/not-a-uuid', undefined, alice.token)).status).toBe(400);
    expect((await api('GET', '/v1/accounts?limit=101', undefined, alice.token)).status).toBe(400);
    const close = await api('POST', `/v1/accounts/${id}/close`, undefined, alice.token);
    expect([close.status, close.body?.code]).toEqual([409, 'ACCOUNT_NOT_EMPTY']);
  });

  it('refuses prototype keys and bad cursors with 400 naming the field, takes any scheme case and long keys, and refuses a key reused for another currency', async () => {
    const alice = await customer();
    for (const field of ['constructor', 'toString', 'hasOwnProperty']) {
      const r = await api('POST', '/v1/accounts', { currency: 'USD', [field]: 1 }, alice.token);
      expect([r.status, r.body?.code, (r.body?.errors as { field: string }[] | undefined)?.map((e) => e.field)]).toEqual([400, 'VALIDATION_FAILED', [field]]);
    }
    const protoBody = await fetch(`${base}/v1/accounts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` }, body: '{"currency":"USD","__proto__":{"admin":true}}' });
    expect(protoBody.status).toBe(400);
    expect((await api('GET', '/v1/accounts', undefined, alice.token)).body?.data).toEqual([]);

    const cursorOf = async (url: string) => {
      const r = await api('GET', url, undefined, alice.token);
      return [r.status, r.body?.code, (r.body?.errors as { field: string }[] | undefined)?.map((e) => e.field)];
    };
    expect(await cursorOf('/v1/accounts?cursor=abc')).toEqual([400, 'VALIDATION_FAILED', ['cursor']]);
    const key = 'k'.repeat(255);
    const opened = await api('POST', '/v1/accounts', { currency: 'USD' }, alice.token, { 'Idempotency-Key': key });
    expect(opened.status).toBe(201);
    const id = opened.body!.id as string;
    expect(await cursorOf(`/v1/accounts/${id}/transactions?cursor=9999999999999999999`)).toEqual([400, 'VALIDATION_FAILED', ['cursor']]);
    expect(await cursorOf(`/v1/accounts/${id}/transactions?cursor=abc`)).toEqual([400, 'VALIDATION_FAILED', ['cursor']]);

    expect((await api('POST', '/v1/accounts', { currency: 'USD' }, alice.token, { 'Idempotency-Key': key })).body?.id).toBe(id);
    const reused = await api('POST', '/v1/accounts', { currency: 'EUR' }, alice.token, { 'Idempotency-Key': key });
    expect([reused.status, reused.body?.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect(((await api('GET', '/v1/accounts', undefined, alice.token)).body?.data as unknown[]).length).toBe(1);

    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const me = await api('GET', '/v1/me', undefined, undefined, { authorization: `${scheme} ${alice.token}` });
      expect([scheme, me.status]).toEqual([scheme, 200]);
    }
  });

  it('answers a customer on an admin route exactly as on a route that does not exist', async () => {
    const alice = await customer();
    const id = newId();
    const admin = await api('POST', `/v1/admin/accounts/${id}/freeze`, { reason: 'x' }, alice.token);
    const none = await api('POST', `/v1/admin/accounts/${id}/melt`, { reason: 'x' }, alice.token);
    const deposit = await api('POST', '/v1/admin/deposits', {}, alice.token, { 'Idempotency-Key': 'k' });
    const noDeposit = await api('POST', '/v1/admin/deposit', {}, alice.token, { 'Idempotency-Key': 'k' });
    const strip = (r: { status: number; body?: Record<string, unknown> }) => ({ status: r.status, ...r.body, detail: String(r.body?.detail).replace(/ \/v1\/\S+\.$/, ' <path>.'), instance: undefined, requestId: undefined });
    expect(strip(admin)).toEqual(strip(none));
    expect(strip(deposit)).toEqual(strip(noDeposit));
    expect(admin.status).toBe(404);
    expect(admin.body?.detail).toBe(`No route for POST /v1/admin/accounts/${id}/freeze.`);
  });

  it('lets only operators freeze accounts (404 to others), and the ledger then refuses the account', async () => {
    const alice = await customer();
    const op = await customer();
    const id = (await api('POST', '/v1/accounts', { currency: 'EUR' }, alice.token)).body!.id as string;
    expect((await api('POST', `/v1/admin/accounts/${id}/freeze`, { reason: 'x' }, alice.token)).status).toBe(404);
    // Roles are granted with bank-cli (through auth-service), never through the public API.
    const granted = await bank.cli<{ userId: string; roles: string[] }>('roles', 'set', '--email', op.email, '--roles', 'customer,operator');
    expect([granted.code, granted.body]).toEqual([0, { userId: op.userId, roles: ['customer', 'operator'] }]);
    const opToken = (await api('POST', '/v1/auth/login', { email: op.email, password: PASSWORD })).body!.accessToken as string;
    expect((await api('GET', `/v1/admin/accounts/${id}`, undefined, opToken)).body).toMatchObject({ id, ownerId: alice.userId });
    const frozen = await api('POST', `/v1/admin/accounts/${id}/freeze`, { reason: 'fraud check' }, opToken);
    expect(frozen.body).toMatchObject({ id, status: 'frozen' });
    await waitFor(async () => (await deposit(id, 1n)) === 'CREATE_TRANSFER_RESULT_CREDIT_ACCOUNT_FROZEN' || undefined, 20_000, 100);
    expect((await api('POST', `/v1/admin/accounts/${id}/unfreeze`, undefined, opToken)).body).toMatchObject({ status: 'active' });
  });
});
