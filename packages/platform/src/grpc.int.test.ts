import * as grpc from '@grpc/grpc-js';
import { notificationV1 } from '@bank/contracts';
import { DomainError } from '@bank/kernel';
import { captureLogger, remoteFailure, TEST_SERVICE_TOKEN } from '@bank/testkit';
import { GrpcCaller, checkHealth, createClient, implement, startGrpcServer, type CallContext, type RunningGrpcServer } from './grpc';

const { logger } = captureLogger('grpc-test');
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
    { serviceToken: TEST_SERVICE_TOKEN, logger },
  );
  server = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [binding], logger });
  server.setServing(true);
  address = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.shutdown(1_000);
});

beforeEach(() => {
  seen = [];
});

function list(caller: GrpcCaller, userId: string, opts: Parameters<GrpcCaller['unary']>[1] = {}) {
  const client = createClient(notificationV1.NotificationServiceClient, address);
  return caller
    .unary<notificationV1.ListNotificationsResponse>((md, o, cb) => client.listNotifications({ userId, limit: 0, cursor: '' }, md, o, cb), opts)
    .finally(() => client.close());
}


describe('gRPC server and client helpers', () => {
  it('serves a call with the caller identity and a deadline', async () => {
    const res = await list(new GrpcCaller(TEST_SERVICE_TOKEN), 'u1', { callerUserId: 'user-7', callerRoles: ['customer'], timeoutMs: 2_000 });
    expect(res.nextCursor).toBe('for user-7');
    expect(seen[0]?.callerRoles).toEqual(['customer']);
    expect(seen[0]!.deadline.getTime()).toBeLessThanOrEqual(Date.now() + 2_000);
  });

  it('refuses a peer without the service credential', async () => {
    const err = await remoteFailure(list(new GrpcCaller('wrong-token-wrong-token-wrong-token'), 'u1'));
    expect(err.grpcCode).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.code).toBe('SERVICE_CREDENTIAL_REJECTED');
    expect(seen).toHaveLength(0);
  });

  it('refuses a call without a deadline', async () => {
    const client = createClient(notificationV1.NotificationServiceClient, address);
    const md = new grpc.Metadata();
    md.set('x-service-token', TEST_SERVICE_TOKEN);
    const err = await new Promise<grpc.ServiceError>((resolve) => client.listNotifications({ userId: 'u', limit: 0, cursor: '' }, md, {}, (e) => resolve(e!)));
    client.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/deadline/);
  });

  it('maps domain errors through the status table and keeps the stable code and fields', async () => {
    const caller = new GrpcCaller(TEST_SERVICE_TOKEN);
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
    const parent: CallContext = { deadline: new Date(Date.now() + 150), requestId: 'r1', traceparent: '', callerUserId: 'p', callerRoles: [], logger };
    const started = Date.now();
    const err = await remoteFailure(list(new GrpcCaller(TEST_SERVICE_TOKEN), 'slow', { parent, timeoutMs: 10_000 }));
    expect(err.grpcCode).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seen[0]?.requestId).toBe('r1');
    release?.();
  });

  it('answers grpc.health.v1 without the credential', async () => {
    expect(await checkHealth(address)).toBe(true);
    expect(await checkHealth(address, 1_000, 'bank.notification.v1.NotificationService')).toBe(true);
    server.setServing(false);
    expect(await checkHealth(address)).toBe(false);
    server.setServing(true);
  });

  it('finishes an in-flight call during graceful shutdown, then refuses new ones', async () => {
    const binding = implement(notificationV1.NotificationServiceService, {
      listNotifications: async () => {
        await new Promise((r) => setTimeout(r, 300));
        return { notifications: [], nextCursor: 'done' };
      },
    }, { serviceToken: TEST_SERVICE_TOKEN, logger });
    const s = await startGrpcServer({ host: '127.0.0.1', port: 0, services: [binding], logger });
    const client = createClient(notificationV1.NotificationServiceClient, `127.0.0.1:${s.port}`);
    const caller = new GrpcCaller(TEST_SERVICE_TOKEN);
    const inFlight = caller.unary<notificationV1.ListNotificationsResponse>((md, o, cb) => client.listNotifications({ userId: 'x', limit: 0, cursor: '' }, md, o, cb));
    await new Promise((r) => setTimeout(r, 50));
    const stopped = s.shutdown(5_000);
    expect((await inFlight).nextCursor).toBe('done');
    await stopped;
    client.close();
    expect(await checkHealth(`127.0.0.1:${s.port}`, 500)).toBe(false);
  });
});
