import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ledgerV1, userV1 } from '@bank/contracts';
import { newId, systemClock } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { BeeQueuePublisher, type CallOptions, checkHealth, DependencyHealth, GrpcCaller, loadConfig, startContainer, type StartedService } from '@bank/platform';
import { captureLogger, createTestDatabase, startTestAuth, type TestAuth, expectEffectCommitsWithInbox, freePort, remoteFailure, TEST_REDIS_URL, testEnvelope, testQueuePrefix, waitFor, TEST_TLS_DIR, testClient, testIdentity } from '@bank/testkit';
import { schema } from './config';
import { Accounts } from '@bank/accounts-core';
import { PostgresAccountStore } from '@bank/accounts-postgres';
import { buildContainer, userEventHandlers } from './container';

const LEDGER_MAIN = path.resolve(__dirname, '..', '..', 'transaction-service', 'dist', 'main.js');


const { logger } = captureLogger('user-service');
const caller = new GrpcCaller();
// Who a call is for travels as an access token the service verifies with auth's published keys.
let auth: TestAuth;
const user = (userId: string, roles: readonly string[]) => ({ userId, roles, get accessToken() { return auth.tokenFor(userId, roles); } });
const alice = user(newId(), ['customer']);
const bob = user(newId(), ['customer']);
const operator = user(newId(), ['customer', 'operator']);
let users: StartedService;
let ledger: ChildProcess;
let userClient: userV1.UserServiceClient;
let ledgerClient: ledgerV1.LedgerServiceClient;
const drops: (() => Promise<void>)[] = [];
let prefix: string;

beforeAll(async () => {
  prefix = testQueuePrefix('accounts');
  const ledgerDb = await createTestDatabase('accounts_ledger');
  const userDb = await createTestDatabase('accounts_users');
  drops.push(ledgerDb.drop, userDb.drop);
  auth = await startTestAuth(logger);
  const common = { BANK_TLS_DIR: TEST_TLS_DIR, AUTH_GRPC_ADDR: auth.address, REDIS_URL: TEST_REDIS_URL, REDIS_QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' };
  // The ledger runs as the real, built transaction-service process: a peer, as in production.
  const ledgerPort = await freePort();
  ledger = spawn(process.execPath, [LEDGER_MAIN], { env: { PATH: process.env.PATH ?? '', ...common, LEDGER_DATABASE_URL: ledgerDb.url, LEDGER_GRPC_PORT: String(ledgerPort), LEDGER_METRICS_PORT: '0' }, stdio: 'ignore' });
  await waitFor(() => checkHealth(`127.0.0.1:${ledgerPort}`, testIdentity('bank-cli'), 500), 30_000, 100);
  const config = loadConfig(schema, { ...common, LOG_LEVEL: 'debug', USER_DATABASE_URL: userDb.url, USER_GRPC_PORT: '0', USER_METRICS_PORT: '0', LEDGER_GRPC_ADDR: `127.0.0.1:${ledgerPort}` });
  users = await startContainer<StartedService>(buildContainer(config, logger));
  userClient = testClient(userV1.UserServiceClient, `127.0.0.1:${users.grpcPort}`);
  ledgerClient = testClient(ledgerV1.LedgerServiceClient, config.LEDGER_GRPC_ADDR);
});

afterAll(async () => {
  userClient.close();
  ledgerClient.close();
  await users.stop();
  ledger.kill('SIGTERM');
  await new Promise((r) => ledger.once('exit', r));
  await auth.stop();
  for (const drop of drops) await drop();
});

type Who = Pick<CallOptions, 'accessToken'>;
const openWithReplay = (who: Who, currency: string, idempotencyKey = '') =>
  caller.unary<userV1.OpenAccountResponse>((md, o, cb) => userClient.openAccount({ ownerId: '', currency, idempotencyKey }, md, o, cb), who);
const open = async (who: Who, currency: string, idempotencyKey = '') => (await openWithReplay(who, currency, idempotencyKey)).account as userV1.BankAccount;
const get = (who: Who, accountId: string) => caller.unary<userV1.BankAccount>((md, o, cb) => userClient.getAccount({ accountId }, md, o, cb), who);
const freeze = (who: Who, accountId: string, reason: string) => caller.unary<userV1.BankAccount>((md, o, cb) => userClient.freezeAccount({ accountId, reason }, md, o, cb), who);
const closeAccount = (who: Who, accountId: string) => caller.unary<userV1.BankAccount>((md, o, cb) => userClient.closeAccount({ accountId }, md, o, cb), who);
const lookup = async (id: string) => (await caller.unary<ledgerV1.LookupAccountsResponse>((md, o, cb) => ledgerClient.lookupAccounts({ ids: [id] }, md, o, cb))).accounts[0];
const transfer = (t: Partial<ledgerV1.Transfer>) =>
  caller.unary<ledgerV1.CreateTransfersResponse>((md, o, cb) => ledgerClient.createTransfers(ledgerV1.CreateTransfersRequest.fromPartial({ transfers: [{ id: newId(), currency: 'EUR', ...t }] }), md, o, cb));
const settlement = async () => systemAccountId('EUR', 'settlement');


async function accountCount(): Promise<number> {
  const { rows } = await users.db.sql.query<{ n: string }>('SELECT count(*) AS n FROM bank_accounts');
  return Number(rows[0]?.n);
}

describe('accounts across user-service and the ledger', () => {
  it('an opened account reaches the ledger through the outbox and the queue, once', async () => {
    const account = await open(alice, 'EUR', 'open-1');
    expect(await openWithReplay(alice, 'EUR', 'open-1')).toEqual({ account, replayed: true });
    expect(account).toMatchObject({ ownerId: alice.userId, currency: 'EUR', status: userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_ACTIVE });
    const inLedger = await waitFor(() => lookup(account.id), 20_000);
    expect(inLedger).toMatchObject({ id: account.id, ownerId: alice.userId, currency: 'EUR', flags: 1, state: ledgerV1.AccountState.ACCOUNT_STATE_ACTIVE });
  });

  it('a frozen account is refused by the ledger at posting time', async () => {
    const account = await open(alice, 'EUR');
    await waitFor(() => lookup(account.id), 20_000);
    expect((await remoteFailure(freeze(alice, account.id, 'mine'))).code).toBe('NOT_FOUND');
    expect((await freeze(operator, account.id, 'fraud check')).status).toBe(userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_FROZEN);
    await waitFor(async () => (await lookup(account.id))?.state === ledgerV1.AccountState.ACCOUNT_STATE_FROZEN || undefined, 20_000);
    const res = await transfer({ debitAccountId: await settlement(), creditAccountId: account.id, amount: 100n });
    expect(ledgerV1.createTransferResultToJSON(res.outcomes[0]!.result)).toBe('CREATE_TRANSFER_RESULT_CREDIT_ACCOUNT_FROZEN');
  });

  it('closes an account only once the ledger shows no money and no holds', async () => {
    const account = await open(bob, 'EUR');
    await waitFor(() => lookup(account.id), 20_000);
    const s = await settlement();
    await transfer({ debitAccountId: s, creditAccountId: account.id, amount: 500n });
    const refused = await remoteFailure(closeAccount(bob, account.id));
    expect([refused.code, refused.grpcCode]).toEqual(['ACCOUNT_NOT_EMPTY', 9]);
    await transfer({ debitAccountId: account.id, creditAccountId: s, amount: 500n });
    expect((await closeAccount(bob, account.id)).status).toBe(userV1.BankAccountStatus.BANK_ACCOUNT_STATUS_CLOSED);
    await waitFor(async () => (await lookup(account.id))?.state === ledgerV1.AccountState.ACCOUNT_STATE_CLOSED || undefined, 20_000);
  });

  it('answers bad input with INVALID_ARGUMENT naming the field, and changes nothing', async () => {
    const before = await accountCount();
    const badCurrency = await remoteFailure(open(alice, 'XXX'));
    expect([badCurrency.grpcCode, badCurrency.code, badCurrency.fields]).toEqual([3, 'VALIDATION_FAILED', [{ field: 'currency', message: 'must be a supported ISO 4217 code' }]]);
    const badId = await remoteFailure(get(alice, 'not-a-uuid'));
    expect([badId.grpcCode, badId.fields.map((f) => f.field)]).toEqual([3, ['accountId']]);
    expect(await accountCount()).toBe(before);
    const nobody = await remoteFailure(open({}, 'EUR'));
    expect(nobody.grpcCode).toBe(16);
    // A token signed by a key auth never published, or altered after signing, is no one's.
    const forged = await remoteFailure(open({ accessToken: auth.forgedTokenFor(alice.userId, ['customer']) }, 'EUR'));
    expect([forged.grpcCode, forged.code]).toEqual([16, 'UNAUTHENTICATED']);
    const [head, , sig] = alice.accessToken.split('.');
    const claims = Buffer.from(JSON.stringify({ sub: alice.userId, roles: ['admin'], iss: 'https://bank.local', aud: 'bank-api', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    expect((await remoteFailure(open({ accessToken: `${head}.${claims}.${sig}` }, 'EUR'))).grpcCode).toBe(16);
    expect(await accountCount()).toBe(before);
  });

  it("shows an account only to its owner and to operators", async () => {
    const account = await open(alice, 'EUR');
    expect((await remoteFailure(get(bob, account.id))).code).toBe('NOT_FOUND');
    expect((await get(operator, account.id)).id).toBe(account.id);
  });

  it('believes who the user is only from a verified token the gateway forwards: headers and other workloads change nothing', async () => {
    const account = await open(alice, 'EUR');
    const asPayments = testClient(userV1.UserServiceClient, `127.0.0.1:${users.grpcPort}`, 'payment-service');
    const read = (who: Who) => caller.unary<userV1.BankAccount>((md, o, cb) => asPayments.getAccount({ accountId: account.id }, md, o, cb), who);
    // The headers services once believed, set by hand on a call from the gateway's identity.
    const withForgedHeaders = (who: Who) =>
      caller.unary<userV1.BankAccount>((md, o, cb) => {
        md.set('x-caller-user-id', alice.userId);
        md.set('x-caller-roles', 'admin,operator');
        return userClient.getAccount({ accountId: account.id }, md, o, cb);
      }, who);
    try {
      // On its own account, payment-service reads with the operator's view its certificate grants.
      const own = await read({});
      expect(own.id).toBe(account.id);
      // Forwarding bob's token (bob may not see it) or an admin's makes no difference either way.
      expect(await read(bob)).toEqual(own);
      expect(await read(user(newId(), ['admin']))).toEqual(own);
      // From the gateway, forged headers are ignored: bob stays bob, and no token is no one.
      expect((await remoteFailure(withForgedHeaders(bob))).code).toBe('NOT_FOUND');
      expect((await remoteFailure(withForgedHeaders({}))).grpcCode).toBe(16);
      // Through the gateway, which speaks for users, bob is bob.
      expect((await remoteFailure(get(bob, account.id))).code).toBe('NOT_FOUND');
      // And payment-service may not open accounts for anyone, whoever it says the user is.
      const opening = caller.unary<userV1.OpenAccountResponse>((md, o, cb) => asPayments.openAccount({ ownerId: '', currency: 'EUR', idempotencyKey: '' }, md, o, cb), alice);
      expect((await remoteFailure(opening)).grpcCode).toBe(7);
    } finally {
      asPayments.close();
    }
  });

  it('creates a profile from user.registered, which only its owner can read and change', async () => {
    const publisher = new BeeQueuePublisher({ redisUrl: TEST_REDIS_URL, prefix }, new DependencyHealth('redis', captureLogger().logger));
    const userId = newId();
    const envelope = { id: newId(), type: 'user.registered' as const, aggregateId: userId, sequence: 1, occurredAt: new Date().toISOString(), traceparent: '', payload: { userId, email: 'carol@example.com', fullName: 'Carol' } };
    await publisher.publish('user-service', [envelope]);
    await publisher.publish('user-service', [{ ...envelope }]);
    await publisher.close();
    const carol = user(userId, ['customer']);
    const profile = await waitFor(() => caller.unary<userV1.Profile>((md, o, cb) => userClient.getProfile({ userId: '' }, md, o, cb), carol).catch(() => undefined), 20_000);
    expect(profile).toMatchObject({ id: userId, email: 'carol@example.com', fullName: 'Carol', roles: ['customer'] });
    const updated = await caller.unary<userV1.Profile>((md, o, cb) => userClient.updateProfile({ userId: '', fullName: 'Carol D.', phone: '+4915112345678' }, md, o, cb), carol);
    expect(updated).toMatchObject({ fullName: 'Carol D.', phone: '+4915112345678', email: 'carol@example.com' });
    const bad = await remoteFailure(caller.unary<userV1.Profile>((md, o, cb) => userClient.updateProfile({ userId: '', fullName: '', phone: 'call me' }, md, o, cb), carol));
    expect(bad.fields.map((f) => f.field)).toEqual(['phone']);
    expect((await remoteFailure(caller.unary<userV1.Profile>((md, o, cb) => userClient.getProfile({ userId }, md, o, cb), bob))).code).toBe('NOT_FOUND');
  });

  it("commits user.registered's profile with its inbox row: a failure after the write leaves neither", async () => {
    const userId = newId();
    await expectEffectCommitsWithInbox({
      db: users.db,
      consumer: 'user-service',
      handlers: userEventHandlers((tx) => new Accounts(new PostgresAccountStore(tx), { balanceOf: async () => undefined }, systemClock)),
      envelope: testEnvelope('user.registered', userId, { userId, email: 'dave@example.com', fullName: 'Dave' }),
      effect: async () => (await users.db.sql.query('SELECT 1 FROM profiles WHERE id = $1', [userId])).rowCount ?? 0,
    });
  });
});
