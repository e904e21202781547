import { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { notificationV1, userV1 } from '@bank/contracts';
import { DomainError } from '@bank/kernel';
import { captureLogger, remoteFailure, startTestAuth, testClient, testIdentity, type TestAuth } from '@bank/testkit';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Workload } from '@bank/contracts';
import { GrpcCaller, callerOf, checkHealth, implement, startGrpcServer, type CallContext, type RunningGrpcServer } from './grpc';
import { loadIdentity } from './identity';
import { issueLocalIdentities } from './pki';
import { authTokenVerifier } from './tokens';

const { logger, lines } = captureLogger('grpc-test');
let server: RunningGrpcServer;
let address: string;
let seen: CallContext[] = [];
let release: (() => void) | undefined;

beforeAll(async () => {
  const binding = implement(
    notificationV1.NotificationServiceService,
    {
      listNotifications: async (req, ctx) => {
        seen.push(ctx);
        if (req.userId === 'missing') throw new DomainError('NOT_FOUND', 'no such user');
        if (req.userId === 'invalid') throw new DomainError('VALIDATION_FAILED', 'bad input', { fields: [{ field: 'userId', message: 'must be a UUID' }] });
        if (req.userId === 'bug') throw new Error('database exploded: password=secret');
        if (req.userId === 'slow') await new Promise<void>((r) => (release = r));
        return { notifications: [], nextCursor: `${ctx.caller} for ${(await callerOf(ctx)).userId ?? 'nobody'}` };
      },
    },
    { logger },
  );
  server = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [binding], identity: testIdentity('notification-service'), logger });
  server.setServing(true);
  address = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.shutdown(1_000);
});

beforeEach(() => {
  seen = [];
});

function list(caller: GrpcCaller, userId: string, opts: Parameters<GrpcCaller['unary']>[1] = {}, as: Workload = 'bank-cli') {
  const client = testClient(notificationV1.NotificationServiceClient, address, as);
  return caller
    .unary<notificationV1.ListNotificationsResponse>((md, o, cb) => client.listNotifications({ userId, limit: 0, cursor: '' }, md, o, cb), opts)
    .finally(() => client.close());
}


describe('gRPC server and client helpers', () => {
  it('serves a call as the calling workload, with a deadline', async () => {
    const res = await list(new GrpcCaller(), 'u1', { timeoutMs: 2_000 });
    // A workload on its own account is no user; its roles are what it may do.
    expect(res.nextCursor).toBe('bank-cli for nobody');
    expect(await seen[0]?.principal()).toEqual({ userId: undefined, roles: ['operator'] });
    expect(seen[0]!.deadline.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
  });

  it('serves the caller the authorization table names, and refuses another workload with PERMISSION_DENIED, logged with its identity', async () => {
    expect(seen).toHaveLength(0);
    await list(new GrpcCaller(), 'u1', {}, 'bank-cli');
    expect(seen[0]?.caller).toBe('bank-cli');
    for (const stranger of ['api-gateway', 'user-service', 'transaction-service'] as const) {
      const err = await remoteFailure(list(new GrpcCaller(), 'u1', {}, stranger));
      expect([stranger, err.grpcCode, err.code]).toEqual([stranger, grpc.status.PERMISSION_DENIED, 'SERVICE_CREDENTIAL_REJECTED']);
    }
    expect(seen).toHaveLength(1);
    expect(lines.filter((l) => l.includes('call refused') && l.includes('"caller":"api-gateway"'))).toHaveLength(1);
  });

  it('reads the certificate of a connection once, and tells the workloads of two connections apart on every call', async () => {
    const peerCertificate = jest.spyOn(TLSSocket.prototype, 'getPeerCertificate');
    const cli = testClient(notificationV1.NotificationServiceClient, address, 'bank-cli');
    const gateway = testClient(notificationV1.NotificationServiceClient, address, 'api-gateway');
    const caller = new GrpcCaller();
    const call = (client: typeof cli) => caller.unary<notificationV1.ListNotificationsResponse>((md, o, cb) => client.listNotifications({ userId: 'u1', limit: 0, cursor: '' }, md, o, cb));
    try {
      for (let i = 0; i < 5; i++) {
        expect((await call(cli)).nextCursor).toBe('bank-cli for nobody');
        expect((await remoteFailure(call(gateway))).code).toBe('SERVICE_CREDENTIAL_REJECTED');
      }
      // Two connections, ten calls: the server read each client's certificate once.
      const serverReads = peerCertificate.mock.contexts.filter((socket) => (socket as { server?: unknown }).server !== undefined);
      expect(serverReads.length).toBe(2);
    } finally {
      peerCertificate.mockRestore();
      cli.close();
      gateway.close();
    }
  });

  it('refuses a caller without a client certificate, or with one from another CA', async () => {
    const call = (credentials: grpc.ChannelCredentials) => {
      const client = new notificationV1.NotificationServiceClient(address, credentials, { 'grpc.ssl_target_name_override': 'notification-service' });
      return remoteFailure(new GrpcCaller().unary<notificationV1.ListNotificationsResponse>((md, o, cb) => client.listNotifications({ userId: 'u', limit: 0, cursor: '' }, md, o, cb), { timeoutMs: 2_000 })).finally(() => client.close());
    };
    const ca = testIdentity('bank-cli').ca;
    expect((await call(grpc.credentials.createSsl(ca))).grpcCode).toBe(grpc.status.UNAVAILABLE);
    const foreignDir = await mkdtemp(path.join(os.tmpdir(), 'foreign-ca-'));
    try {
      await issueLocalIdentities(foreignDir, ['bank-cli']);
      const foreign = loadIdentity(foreignDir, 'bank-cli');
      // The same name, signed by a CA the bank does not trust.
      expect((await call(grpc.credentials.createSsl(ca, foreign.key, foreign.cert))).grpcCode).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await rm(foreignDir, { recursive: true, force: true });
    }
    expect((await call(grpc.credentials.createInsecure())).grpcCode).toBe(grpc.status.UNAVAILABLE);
    expect(seen).toHaveLength(0);
  });

  it('refuses a call without a deadline', async () => {
    const client = testClient(notificationV1.NotificationServiceClient, address);
    const md = new grpc.Metadata();
    const err = await new Promise<grpc.ServiceError>((resolve) => client.listNotifications({ userId: 'u', limit: 0, cursor: '' }, md, {}, (e) => resolve(e!)));
    client.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/deadline/);
  });

  it('maps domain errors through the status table and keeps the stable code and fields', async () => {
    const caller = new GrpcCaller();
    const notFound = await remoteFailure(list(caller, 'missing'));
    expect([notFound.grpcCode, notFound.code]).toEqual([grpc.status.NOT_FOUND, 'NOT_FOUND']);
    const invalid = await remoteFailure(list(caller, 'invalid'));
    expect([invalid.grpcCode, invalid.code]).toEqual([grpc.status.INVALID_ARGUMENT, 'VALIDATION_FAILED']);
    expect(invalid.fields).toEqual([{ field: 'userId', message: 'must be a UUID' }]);
    const bug = await remoteFailure(list(caller, 'bug'));
    expect(bug.grpcCode).toBe(grpc.status.INTERNAL);
    expect(bug.message).not.toContain('secret');
  });

  it('propagates the parent deadline: a child call never outlives its parent', async () => {
    const parent: CallContext = { caller: 'api-gateway', deadline: new Date(Date.now() + 150), requestId: 'r1', traceparent: '', accessToken: undefined, principal: async () => ({ userId: undefined, roles: [] }), logger };
    const started = Date.now();
    const err = await remoteFailure(list(new GrpcCaller(), 'slow', { parent, timeoutMs: 10_000 }));
    expect(err.grpcCode).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seen[0]?.requestId).toBe('r1');
    release?.();
  });

  it('answers grpc.health.v1 to any workload of the bank', async () => {
    expect(await checkHealth(address, testIdentity('api-gateway'))).toBe(true);
    expect(await checkHealth(address, testIdentity('bank-cli'), 1_000, 'bank.notification.v1.NotificationService')).toBe(true);
    server.setServing(false);
    expect(await checkHealth(address, testIdentity('bank-cli'))).toBe(false);
    server.setServing(true);
  });

  it('finishes an in-flight call during graceful shutdown, then refuses new ones', async () => {
    const binding = implement(notificationV1.NotificationServiceService, {
      listNotifications: async () => {
        await new Promise((r) => setTimeout(r, 300));
        return { notifications: [], nextCursor: 'done' };
      },
    }, { logger });
    const s = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [binding], identity: testIdentity('notification-service'), logger });
    const client = testClient(notificationV1.NotificationServiceClient, `127.0.0.1:${s.port}`);
    const caller = new GrpcCaller();
    const inFlight = caller.unary<notificationV1.ListNotificationsResponse>((md, o, cb) => client.listNotifications({ userId: 'x', limit: 0, cursor: '' }, md, o, cb));
    await new Promise((r) => setTimeout(r, 50));
    const stopped = s.shutdown(5_000);
    expect((await inFlight).nextCursor).toBe('done');
    await stopped;
    client.close();
    expect(await checkHealth(`127.0.0.1:${s.port}`, testIdentity('bank-cli'), 500)).toBe(false);
  });
});

describe('the end user, as a verified access token says', () => {
  let auth: TestAuth;
  let users: RunningGrpcServer;
  let tokens: ReturnType<typeof authTokenVerifier>;
  const refuse = async (): Promise<never> => {
    throw new DomainError('NOT_FOUND', 'not in this test');
  };

  beforeAll(async () => {
    auth = await startTestAuth(logger);
    tokens = authTokenVerifier({ AUTH_GRPC_ADDR: auth.address, JWT_ISSUER: 'https://bank.local', JWT_AUDIENCE: 'bank-api' }, testIdentity('user-service'));
    // A user-service whose GetProfile answers who it believes the caller is.
    const whoAmI = async (_req: unknown, ctx: CallContext) => {
      const who = await callerOf(ctx);
      return { id: who.userId ?? 'nobody', email: '', fullName: '', phone: '', roles: [...who.roles], createdAt: new Date(0) };
    };
    const binding = implement(
      userV1.UserServiceService,
      { getProfile: whoAmI, updateProfile: whoAmI, openAccount: refuse, getAccount: refuse, listAccounts: refuse, freezeAccount: refuse, unfreezeAccount: refuse, closeAccount: refuse },
      { logger, verifier: tokens.verifier },
    );
    users = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [binding], identity: testIdentity('user-service'), logger });
    users.setServing(true);
  });

  afterAll(async () => {
    tokens.close();
    await users.shutdown(1_000);
    await auth.stop();
  });

  const whoAmI = (opts: { accessToken?: string; headers?: Record<string, string> }, as: Workload = 'api-gateway') => {
    const client = testClient(userV1.UserServiceClient, `127.0.0.1:${users.port}`, as);
    return new GrpcCaller()
      .unary<userV1.Profile>((md, o, cb) => {
        for (const [k, v] of Object.entries(opts.headers ?? {})) md.set(k, v);
        return client.getProfile({ userId: '' }, md, o, cb);
      }, { accessToken: opts.accessToken })
      .finally(() => client.close());
  };

  it('is the user a token from the gateway names, with its roles; forged headers change nothing', async () => {
    const forged = { 'x-caller-user-id': 'mallory', 'x-caller-roles': 'admin' };
    expect(await whoAmI({ accessToken: auth.tokenFor('user-7', ['customer']), headers: forged })).toMatchObject({ id: 'user-7', roles: ['customer'] });
    expect(await whoAmI({ headers: forged })).toMatchObject({ id: 'nobody', roles: [] });
    // A token auth never signed is refused, not ignored.
    const err = await remoteFailure(whoAmI({ accessToken: auth.forgedTokenFor('user-7', ['admin']) }));
    expect([err.grpcCode, err.code]).toEqual([grpc.status.UNAUTHENTICATED, 'UNAUTHENTICATED']);
  });
});
