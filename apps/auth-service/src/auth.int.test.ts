import jwt from 'jsonwebtoken';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { authV1, type Workload } from '@bank/contracts';
import { GrpcCaller, loadConfig, startContainer, type StartedService, type UnaryInvoker } from '@bank/platform';
import { captureLogger, createTestDatabase, remoteFailure, TEST_REDIS_URL, testQueuePrefix, TEST_TLS_DIR, testClient } from '@bank/testkit';
import { ManualClock, newId, systemClock } from '@bank/kernel';
import { Auth, FAILED_LOGIN_WINDOW_MS, MAX_FAILED_LOGINS_PER_ACCOUNT, MAX_FAILED_LOGINS_PER_IP } from './auth';
import { PasswordHasher } from './passwords';
import { KEY_PUBLISH_LEAD_MS, SigningKeys } from './signing';
import { schema } from './config';
import { buildContainer } from './container';

const { logger, lines } = captureLogger('auth-service');
let service: StartedService;
let drop: () => Promise<void>;
let client: authV1.AuthServiceClient;
const caller = new GrpcCaller();
const PASSWORD = 'correct horse battery staple';
const secretsSeen: string[] = [PASSWORD];

beforeAll(async () => {
  const t = await createTestDatabase('auth');
  drop = t.drop;
  const config = loadConfig(schema, {
    AUTH_DATABASE_URL: t.url,
    AUTH_GRPC_PORT: '0',
    AUTH_METRICS_PORT: '0',
    BANK_TLS_DIR: TEST_TLS_DIR,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_QUEUE_PREFIX: testQueuePrefix('auth'),
    AUTH_BCRYPT_COST: '4',
    LOG_LEVEL: 'debug',
  });
  service = await startContainer<StartedService>(buildContainer(config, logger));
  client = testClient(authV1.AuthServiceClient, `127.0.0.1:${service.grpcPort}`);
});

afterAll(async () => {
  client.close();
  await service.stop();
  await drop();
  // No password, hash or token of this suite was ever written to a log line.
  const text = lines.join('\n');
  expect(lines.length).toBeGreaterThan(0);
  for (const secret of secretsSeen) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/\$2[aby]\$\d\d\$/);
});

const signUp = (req: Partial<authV1.SignUpRequest>) => caller.unary<authV1.SignUpResponse>((md, o, cb) => client.signUp(authV1.SignUpRequest.fromPartial(req), md, o, cb));
const login = (email: string, password: string, clientIp = '203.0.113.7') =>
  caller.unary<authV1.TokenPair>((md, o, cb) => client.login({ email, password, clientIp }, md, o, cb)).then((p) => {
    secretsSeen.push(p.accessToken, p.refreshToken);
    return p;
  });
const refresh = (refreshToken: string) =>
  caller.unary<authV1.TokenPair>((md, o, cb) => client.refresh({ refreshToken }, md, o, cb)).then((p) => {
    secretsSeen.push(p.accessToken, p.refreshToken);
    return p;
  });
const logout = (refreshToken: string) => caller.unary<authV1.LogoutResponse>((md, o, cb) => client.logout({ refreshToken }, md, o, cb));
const jwks = () => caller.unary<authV1.GetJwksResponse>((md, o, cb) => client.getJwks({}, md, o, cb));
/** SetRoles as a workload calls it: by default bank-cli, the one the authorization table lets grant roles. */
const setRoles = (email: string, roles: string[], as: Workload = 'bank-cli') => {
  const c = testClient(authV1.AuthServiceClient, `127.0.0.1:${service.grpcPort}`, as);
  return caller.unary<authV1.SetRolesResponse>((md, o, cb) => c.setRoles({ email, roles }, md, o, cb)).finally(() => c.close());
};


let emailCounter = 0;
const freshEmail = () => `user${++emailCounter}.${Date.now()}@example.com`;

async function verifyAccess(token: string): Promise<jwt.JwtPayload> {
  const decoded = jwt.decode(token, { complete: true });
  const key = (await jwks()).keys.find((k) => k.kid === decoded?.header.kid);
  expect(key).toBeDefined();
  const pem = createPublicKey({ key: { kty: key!.kty, n: key!.n, e: key!.e }, format: 'jwk' });
  return jwt.verify(token, pem, { algorithms: ['RS256'], issuer: 'https://bank.local', audience: 'bank-api' }) as jwt.JwtPayload;
}

async function userCount(): Promise<number> {
  const { rows } = await service.db.transaction((c) => c.query<{ n: string }>('SELECT count(*) AS n FROM users'));
  return Number(rows[0]?.n);
}

describe('signup', () => {
  it('registers a customer, normalising the email, and records user.registered in the outbox', async () => {
    const email = freshEmail();
    const res = await signUp({ email: `  ${email.toUpperCase()} `, password: PASSWORD, fullName: ' Ada Lovelace ' });
    expect(res.email).toBe(email);
    const { rows } = await service.db.transaction((c) => c.query<{ type: string; payload: { userId: string; email: string; fullName: string } }>("SELECT type, payload FROM outbox WHERE type = 'user.registered' AND aggregate_id = $1", [res.userId]));
    expect(rows[0]?.payload).toEqual({ userId: res.userId, email, fullName: 'Ada Lovelace' });
    const err = await remoteFailure(signUp({ email: email.toUpperCase(), password: PASSWORD, fullName: 'Other' }));
    expect([err.code, err.grpcCode]).toEqual(['EMAIL_TAKEN', 6]);
  });

  it.each([
    ['a short password', { password: 'short' }, 'WEAK_PASSWORD', 'password'],
    ['a 73-byte password', { password: 'x'.repeat(73) }, 'WEAK_PASSWORD', 'password'],
    ['a common password', { password: 'password123' }, 'WEAK_PASSWORD', 'password'],
    ['a malformed email', { email: 'not-an-email' }, 'VALIDATION_FAILED', 'email'],
    ['a missing name', { fullName: '' }, 'VALIDATION_FAILED', 'fullName'],
  ])('refuses %s with INVALID_ARGUMENT naming the field, and stores nothing', async (_label, override, code, field) => {
    const before = await userCount();
    const err = await remoteFailure(signUp({ email: freshEmail(), password: PASSWORD, fullName: 'Ada', ...override }));
    expect([err.code, err.grpcCode]).toEqual([code, 3]);
    expect(err.fields.map((f) => f.field)).toEqual([field]);
    expect(await userCount()).toBe(before);
  });
});

describe('login and tokens', () => {
  it('issues a short-lived RS256 access token verifiable with the JWKS, with the customer role', async () => {
    const email = freshEmail();
    const { userId } = await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    const pair = await login(email, PASSWORD);
    expect(pair.tokenType).toBe('Bearer');
    expect(pair.expiresInSeconds).toBe(900);
    const claims = await verifyAccess(pair.accessToken);
    expect(claims).toMatchObject({ sub: userId, roles: ['customer'], iss: 'https://bank.local', aud: 'bank-api' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(900);
    expect(claims.jti).toEqual(expect.any(String));
    // A token signed with another algorithm (here HS256 with the public key as secret) is refused.
    const forged = jwt.sign({ sub: userId, roles: ['admin'] }, 'not-the-key', { algorithm: 'HS256', issuer: 'https://bank.local', audience: 'bank-api' });
    await expect(verifyAccess(forged)).rejects.toThrow();
  });

  it('answers a wrong password and an unknown email the same way', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    const wrong = await remoteFailure(login(email, 'wrong password here'));
    const unknown = await remoteFailure(login(freshEmail(), 'wrong password here'));
    expect([wrong.code, wrong.grpcCode, wrong.message]).toEqual([unknown.code, unknown.grpcCode, unknown.message]);
    expect(wrong.code).toBe('INVALID_CREDENTIALS');
  });

  it('rotates refresh tokens, and a reused one revokes the whole family', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    const first = await login(email, PASSWORD);
    const second = await refresh(first.refreshToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const third = await refresh(second.refreshToken);
    // The stolen first token comes back: refused, and the legitimate newest one dies with it.
    expect((await remoteFailure(refresh(first.refreshToken))).code).toBe('INVALID_REFRESH_TOKEN');
    expect((await remoteFailure(refresh(third.refreshToken))).code).toBe('INVALID_REFRESH_TOKEN');
    // Another session of the same user (another family) is untouched.
    const other = await login(email, PASSWORD);
    await refresh(other.refreshToken);
  });

  it('logout revokes the family; logging out twice is fine', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    const pair = await login(email, PASSWORD);
    const next = await refresh(pair.refreshToken);
    await logout(next.refreshToken);
    await logout(next.refreshToken);
    const err = await remoteFailure(refresh(next.refreshToken));
    expect([err.code, err.grpcCode]).toEqual(['INVALID_REFRESH_TOKEN', 16]);
  });

  it('refuses an account after repeated failures even with the right password', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    for (let i = 0; i < MAX_FAILED_LOGINS_PER_ACCOUNT; i++) await remoteFailure(login(email, 'wrong password here', `198.51.100.${i}`));
    expect((await remoteFailure(login(email, PASSWORD, '198.51.100.200'))).code).toBe('INVALID_CREDENTIALS');
  });

  it('rate-limits an address with many failed logins', async () => {
    const ip = '192.0.2.99';
    for (let i = 0; i < MAX_FAILED_LOGINS_PER_IP; i++) await remoteFailure(login(`nobody${i}@example.com`, 'wrong password here', ip));
    const err = await remoteFailure(login('nobody@example.com', 'wrong password here', ip));
    expect([err.code, err.grpcCode]).toEqual(['RATE_LIMITED', 8]);
    // The address may try again when its window ends, and the refusal says when.
    expect(err.retryAfterSeconds).toBeGreaterThan(FAILED_LOGIN_WINDOW_MS / 1000 - 60);
    expect(err.retryAfterSeconds).toBeLessThanOrEqual(FAILED_LOGIN_WINDOW_MS / 1000);
  });

  it('counts every one of concurrent failed logins, per account and per address', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    const ip = '192.0.2.150';
    await Promise.all(Array.from({ length: MAX_FAILED_LOGINS_PER_ACCOUNT }, () => remoteFailure(login(email, 'wrong password here', ip))));
    const { rows } = await service.db.sql.query<{ failed_logins: number; failures: number }>(
      'SELECT u.failed_logins, f.failures FROM users u, login_failures_by_ip f WHERE u.email = $1 AND f.ip = $2',
      [email, ip],
    );
    expect(rows[0]).toEqual({ failed_logins: MAX_FAILED_LOGINS_PER_ACCOUNT, failures: MAX_FAILED_LOGINS_PER_ACCOUNT });
    expect((await remoteFailure(login(email, PASSWORD, '192.0.2.151'))).code).toBe('INVALID_CREDENTIALS');
  });

  it('lets no more parallel guesses reach the real hash than the account allows', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    let comparedWithRealHash = 0;
    const hasher = new PasswordHasher(4);
    const counting = Object.assign(Object.create(hasher) as PasswordHasher, {
      verify: (password: string, hash: string | undefined) => {
        if (hash !== undefined) comparedWithRealHash++;
        return hasher.verify(password, hash);
      },
    });
    const auth = new Auth(service.db, counting, new SigningKeys(service.db, systemClock, { issuer: 'i', audience: 'a', accessTtlSeconds: 60 }), systemClock, 60);
    const guesses = 3 * MAX_FAILED_LOGINS_PER_ACCOUNT;
    const outcomes = await Promise.allSettled(Array.from({ length: guesses }, (_, i) => auth.login({ email, password: `wrong guess ${i}`, clientIp: `198.18.0.${i}` })));
    expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as { code?: string }).code === 'INVALID_CREDENTIALS')).toBe(true);
    expect(comparedWithRealHash).toBe(MAX_FAILED_LOGINS_PER_ACCOUNT);
  });

  it('of concurrent rotations of one refresh token, one wins and the rest revoke the family', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    const pair = await login(email, PASSWORD);
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => refresh(pair.refreshToken)));
    const won = outcomes.filter((o): o is PromiseFulfilledResult<authV1.TokenPair> => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    // The winner's new token was revoked along with the family when a loser presented the used one.
    expect((await remoteFailure(refresh(won[0]!.value.refreshToken))).code).toBe('INVALID_REFRESH_TOKEN');
  });

  it('grants roles only through SetRoles, and the next token carries them', async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ada' });
    // No service may make anyone an operator: not the gateway, not payment-service, whatever it holds.
    for (const workload of ['api-gateway', 'payment-service', 'user-service'] as const) {
      expect([workload, (await remoteFailure(setRoles(email, ['customer', 'admin'], workload))).grpcCode]).toEqual([workload, 7]);
    }
    expect((await setRoles(email, ['customer', 'operator'])).roles).toEqual(['customer', 'operator']);
    expect((await remoteFailure(setRoles(email, ['root']))).grpcCode).toBe(3);
    expect((await remoteFailure(setRoles(freshEmail(), ['operator']))).grpcCode).toBe(5);
    const claims = await verifyAccess((await login(email, PASSWORD)).accessToken);
    expect(claims.roles).toEqual(['customer', 'operator']);
  });

  it('publishes one signing key, which survives a restart of the service', async () => {
    const before = (await jwks()).keys.map((k) => k.kid);
    expect(before).toHaveLength(1);
    const { rows } = await service.db.transaction((c) => c.query<{ kid: string }>('SELECT kid FROM signing_keys'));
    expect(rows.map((r) => r.kid)).toEqual(before);
  });
});

describe('a configured signing key', () => {
  it('is refused at start when another key was recorded under the same kid', async () => {
    const pem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keys = new SigningKeys(service.db, systemClock, { issuer: 'https://bank.local', audience: 'bank-api', accessTtlSeconds: 900 });
    const kid = `configured-${newId()}`;
    const first = pem();
    await keys.load({ privatePem: first, kid });
    // The same key again (a restart) is fine; another under its kid is not.
    await keys.load({ privatePem: first, kid });
    await expect(keys.load({ privatePem: pem(), kid })).rejects.toThrow(`JWT_PRIVATE_KEY is not the key recorded under JWT_KEY_ID "${kid}"`);
  });
});

describe('signing key rotation', () => {
  it('publishes the new key before it signs, and keeps the old one published while its tokens live', async () => {
    const clock = new ManualClock(Date.now());
    const keys = new SigningKeys(service.db, clock, { issuer: 'https://bank.local', audience: 'bank-api', accessTtlSeconds: 900 });
    await keys.load(undefined);
    const kidOf = async () => jwt.decode((await keys.sign({ sub: 'u1', roles: [] })).token, { complete: true })?.header.kid;
    const oldKid = await kidOf();
    const { kid: newKid, signsFrom } = await keys.rotate();
    expect(signsFrom.getTime() - clock.now().getTime()).toBe(KEY_PUBLISH_LEAD_MS);
    expect((await keys.jwks()).map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    // Verifiers may not know the new key yet: the old one signs until the lead has passed.
    expect(await kidOf()).toBe(oldKid);
    clock.advance(KEY_PUBLISH_LEAD_MS);
    expect(await kidOf()).toBe(newKid);
    const listed = await keys.list();
    expect(listed.find((k) => k.kid === oldKid)).toMatchObject({ signing: false, published: true, retiredAt: signsFrom });
    expect(listed.find((k) => k.kid === newKid)).toMatchObject({ signing: true, published: true, retiredAt: null });
    clock.advance(901_000);
    expect((await keys.jwks()).map((k) => k.kid)).not.toContain(oldKid);
    expect((await keys.jwks()).map((k) => k.kid)).toContain(newKid);
    expect((await keys.list()).find((k) => k.kid === oldKid)?.published).toBe(false);
  });

  it('is refused while the key is configured (JWT_PRIVATE_KEY)', async () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keys = new SigningKeys(service.db, systemClock, { issuer: 'https://bank.local', audience: 'bank-api', accessTtlSeconds: 900 });
    await keys.load({ privatePem: pem, kid: `configured-${newId()}` });
    await expect(keys.rotate()).rejects.toMatchObject({ code: 'SIGNING_KEY_CONFIGURED' });
  });
});

describe("operators' RPCs (bank-cli only)", () => {
  const as = <T>(workload: Workload, fn: (c: authV1.AuthServiceClient) => UnaryInvoker<T>) => {
    const c = testClient(authV1.AuthServiceClient, `127.0.0.1:${service.grpcPort}`, workload);
    return caller.unary<T>((md, o, cb) => fn(c)(md, o, cb)).finally(() => c.close());
  };

  it("shows a user's record, ends all their sessions, and lists and rotates the keys", async () => {
    const email = freshEmail();
    await signUp({ email, password: PASSWORD, fullName: 'Ops Target' });
    const sessions = [await login(email, PASSWORD), await login(email, PASSWORD)];
    const record = await as<authV1.UserRecord>('bank-cli', (c) => (md, o, cb) => c.getUser({ email: email.toUpperCase() }, md, o, cb));
    expect(record).toMatchObject({ email, fullName: 'Ops Target', roles: ['customer'], failedLogins: 0, activeSessions: 2 });
    expect(record.lockedUntil).toBeUndefined();
    expect(JSON.stringify(record)).not.toMatch(/\$2[aby]\$/);

    const revoked = await as<authV1.RevokeSessionsResponse>('bank-cli', (c) => (md, o, cb) => c.revokeSessions({ email }, md, o, cb));
    expect(revoked).toMatchObject({ userId: record.userId, revokedSessions: 2, accessTokenTtlSeconds: 900 });
    for (const s of sessions) expect((await remoteFailure(refresh(s.refreshToken))).code).toBe('INVALID_REFRESH_TOKEN');
    expect((await as<authV1.UserRecord>('bank-cli', (c) => (md, o, cb) => c.getUser({ email }, md, o, cb))).activeSessions).toBe(0);
    expect((await remoteFailure(as('bank-cli', (c) => (md, o, cb) => c.revokeSessions({ email: freshEmail() }, md, o, cb)))).grpcCode).toBe(5);

    const before = (await as<authV1.ListSigningKeysResponse>('bank-cli', (c) => (md, o, cb) => c.listSigningKeys({}, md, o, cb))).keys;
    expect(before.filter((k) => k.signing)).toHaveLength(1);
    const rotated = await as<authV1.RotateSigningKeyResponse>('bank-cli', (c) => (md, o, cb) => c.rotateSigningKey({}, md, o, cb));
    const after = (await as<authV1.ListSigningKeysResponse>('bank-cli', (c) => (md, o, cb) => c.listSigningKeys({}, md, o, cb))).keys;
    expect(after.find((k) => k.kid === rotated.kid)).toMatchObject({ signing: false, published: true });
    expect((await jwks()).keys.map((k) => k.kid)).toContain(rotated.kid);
    // Tokens issued during the lead are still signed by the old key, which the JWKS still has.
    await verifyAccess((await login(email, PASSWORD)).accessToken);

    for (const workload of ['api-gateway', 'user-service', 'payment-service'] as const) {
      expect((await remoteFailure(as(workload, (c) => (md, o, cb) => c.getUser({ email }, md, o, cb)))).grpcCode).toBe(7);
      expect((await remoteFailure(as(workload, (c) => (md, o, cb) => c.rotateSigningKey({}, md, o, cb)))).grpcCode).toBe(7);
    }
  });
});
