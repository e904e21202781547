import * as grpc from '@grpc/grpc-js';
import { notificationV1 } from '@bank/contracts';
import { DomainError } from '@bank/kernel';
import { captureLogger, remoteFailure, testClient, testIdentity } from '@bank/testkit';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Workload } from '@bank/contracts';
import { GrpcCaller, checkHealth, implement, startGrpcServer, type CallContext, type RunningGrpcServer } from './grpc';
import { loadIdentity } from './identity';
import { issueLocalIdentities } from './pki';

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
        return { notifications: [], nextCursor: `for ${ctx.callerUserId ?? 'nobody'}` };
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
  it('serves a call with the caller identity and a deadline', async () => {
    const res = await list(new GrpcCaller(), 'u1', { callerUserId: 'user-7', callerRoles: ['customer'], timeoutMs: 2_000 });
    expect(res.nextCursor).toBe('for user-7');
    expect(seen[0]?.callerRoles).toEqual(['customer']);
    expect(seen[0]!.deadline.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
  });

  it('serves the caller the authorization table names, and refuses another workload with PERMISSION_DENIED, logged with its identity', async () => {
    expect(seen).toHaveLength(0);
    await list(new GrpcCaller(), 'u1', {}, 'bank-cli');
    expect(seen[0]?.caller).toBe('bank-cli');
    for (const stranger of ['api-gateway', 'payment-service', 'transaction-service'] as const) {
      const err = await remoteFailure(list(new GrpcCaller(), 'u1', {}, stranger));
      expect([stranger, err.grpcCode, err.code]).toEqual([stranger, grpc.status.PERMISSION_DENIED, 'SERVICE_CREDENTIAL_REJECTED']);
    }
    expect(seen).toHaveLength(1);
    expect(lines.filter((l) => l.includes('call refused') && l.includes('"caller":"api-gateway"'))).toHaveLength(1);
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
    const parent: CallContext = { caller: 'api-gateway', deadline: new Date(Date.now() + 150), requestId: 'r1', traceparent: '', callerUserId: 'p', callerRoles: [], logger };
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
