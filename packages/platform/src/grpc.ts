import * as grpc from '@grpc/grpc-js';
import { callersOf, health, rolesOfWorkload, serverOf, speaksForUsers, type Workload } from '@bank/contracts';
import { DomainError, InvariantViolation, newId, type Caller } from '@bank/kernel';
import { isDatabaseUnavailable } from './db';
import { callerWorkload, channelCredentials, serverCredentials, type WorkloadIdentity } from './identity';
import type { Logger } from './logger';
import type { TokenVerifier } from './tokens';
import { ERROR_CODE_METADATA_KEY, ERROR_FIELDS_METADATA_KEY, ERROR_RETRY_AFTER_METADATA_KEY, MAX_RETRY_AFTER_S, grpcStatusForCode } from './status';
import { currentTraceparent } from './trace';

/**
 * The end user's access token, forwarded as it came by a workload that speaks for users (the
 * gateway). Each service verifies it itself; no service takes a user id or a role on trust.
 */
export const ACCESS_TOKEN_HEADER = 'authorization';
const BEARER_PATTERN = /^Bearer ([A-Za-z0-9_\-.]+)$/;
export const REQUEST_ID_HEADER = 'x-request-id';
export const TRACEPARENT_HEADER = 'traceparent';
/**
 * The stable code of a call refused because the calling workload may not make it (the
 * authorization table, contracts' trust.ts): a deployment fault or an attack between services,
 * which a gateway must not pass on as the end user's 401 or 403.
 */
export const SERVICE_CREDENTIAL_REJECTED = 'SERVICE_CREDENTIAL_REJECTED';

/**
 * Keepalive must match on both sides: a client that pings more often than the server's
 * min_ping_interval gets GOAWAY(too_many_pings), so the server permits exactly the client's rate.
 */
export const KEEPALIVE_TIME_MS = 30_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CALL_TIMEOUT_MS = 5_000;
/** How long a SIGTERM waits for in-flight calls before cutting them. */
export const SHUTDOWN_GRACE_MS = 10_000;

export const SERVER_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
  'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': KEEPALIVE_TIME_MS,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

export const CLIENT_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
  'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** The calling workload, as its certificate names it. */
  readonly caller: Workload;
  readonly deadline: Date;
  readonly requestId: string;
  readonly traceparent: string;
  /** The end user's access token, when a workload that speaks for users forwarded one. */
  readonly accessToken: string | undefined;
  /**
   * Who the call is for, the token verified on first ask (a handler that never asks, like the
   * ledger's, pays nothing): the end user, or the calling workload on its own account.
   */
  principal(): Promise<Caller>;
  readonly logger: Logger;
}

interface UnaryMethod {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: false;
  requestDeserialize(b: Buffer): unknown;
  responseDeserialize(b: Buffer): unknown;
}
type RequestOf<M> = M extends { requestDeserialize(b: Buffer): infer R } ? R : never;
type ResponseOf<M> = M extends { responseDeserialize(b: Buffer): infer R } ? R : never;
type UnaryKeys<S> = { [K in keyof S]: S[K] extends UnaryMethod ? K : never }[keyof S];

export type Handlers<S> = { [K in UnaryKeys<S>]: (request: RequestOf<S[K]>, ctx: CallContext) => Promise<ResponseOf<S[K]>> };

export interface ServiceBinding {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

function firstString(md: grpc.Metadata, key: string): string | undefined {
  const value = md.get(key)[0];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Turns a thrown error into a gRPC status: one table for every service. */
export function toServiceError(error: unknown, logger: Logger, path: string): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (error instanceof DomainError) {
    metadata.set(ERROR_CODE_METADATA_KEY, error.code);
    if (error.details.fields !== undefined) {
      metadata.set(ERROR_FIELDS_METADATA_KEY, Buffer.from(JSON.stringify(error.details.fields)));
    }
    if (typeof error.details.retryAfterSeconds === 'number') metadata.set(ERROR_RETRY_AFTER_METADATA_KEY, String(error.details.retryAfterSeconds));
    return { code: grpcStatusForCode(error.code), details: error.message, metadata };
  }
  if (error instanceof InvariantViolation) {
    logger.error({ err: error, path }, 'invariant violated');
    return { code: grpc.status.INTERNAL, details: 'internal error', metadata };
  }
  // A database that is away fails the call at once with UNAVAILABLE (the caller may retry), not
  // INTERNAL; the outage is logged by whoever retries it, so each call only goes to the debug log.
  if (isDatabaseUnavailable(error)) {
    logger.debug({ err: error, path }, 'call failed: database unavailable');
    return { code: grpc.status.UNAVAILABLE, details: 'a database the service needs is unavailable', metadata };
  }
  logger.error({ err: error, path }, 'call failed');
  return { code: grpc.status.INTERNAL, details: 'internal error', metadata };
}

/**
 * Adapts promise-returning handlers to grpc-js: lets through only the workloads the
 * authorization table allows for each RPC (the caller named by its certificate), checks the
 * deadline, builds the call context and maps errors through the status table.
 */
export function implement<S extends grpc.ServiceDefinition>(
  definition: S,
  handlers: Handlers<S>,
  opts: {
    logger: Logger;
    /** Verifies the access tokens forwarded by the gateway; a service whose handlers never ask who the user is needs none. */
    verifier?: TokenVerifier;
  },
): ServiceBinding {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const handler = (handlers as Record<string, (req: unknown, ctx: CallContext) => Promise<unknown>>)[name];
    if (!handler) throw new Error(`no handler for ${method.path}`);
    const allowed = callersOf(method.path);
    if (allowed.length === 0) throw new Error(`${method.path} has no callers in the authorization table`);
    implementation[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const md = call.metadata;
      const caller = callerWorkload(call);
      if (caller === undefined || !allowed.includes(caller)) {
        opts.logger.warn({ caller: caller ?? call.getAuthContext().sslPeerCertificate?.subject?.CN ?? null, rpc: method.path, peer: call.getPeer() }, 'call refused: the caller may not make this call');
        const metadata = new grpc.Metadata();
        metadata.set(ERROR_CODE_METADATA_KEY, SERVICE_CREDENTIAL_REJECTED);
        callback({ code: grpc.status.PERMISSION_DENIED, details: `${caller ?? 'an unknown workload'} may not call ${method.path}`, metadata });
        return;
      }
      const delegate = speaksForUsers(caller);
      const deadline = call.getDeadline();
      const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
      if (!Number.isFinite(deadlineMs)) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'every call must carry a deadline' });
        return;
      }
      // The request id and the per-call logger are made only when a handler asks: on the ledger's
      // hot path a call that logs nothing should cost no random bytes and no pino child.
      let requestId = firstString(md, REQUEST_ID_HEADER);
      let logger: Logger | undefined;
      let principal: Promise<Caller> | undefined;
      // Only a workload that speaks for users may say who the user is, and only with a token.
      const accessToken = delegate ? BEARER_PATTERN.exec(firstString(md, ACCESS_TOKEN_HEADER) ?? '')?.[1] : undefined;
      const ctx: CallContext = {
        caller,
        deadline: new Date(deadlineMs),
        get requestId() {
          requestId ??= newId();
          return requestId;
        },
        // The server span's when tracing is on (so events made here join it), else the caller's as sent.
        traceparent: currentTraceparent(firstString(md, TRACEPARENT_HEADER) ?? ''),
        accessToken,
        principal: () => (principal ??= principalOf(caller, delegate, accessToken, opts.verifier)),
        get logger() {
          logger ??= opts.logger.child({ requestId: this.requestId, rpc: method.path });
          return logger;
        },
      };
      handler(call.request, ctx).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toServiceError(error, ctx.logger, method.path)),
      );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return { definition, implementation };
}

/**
 * From a workload that speaks for users, the user its forwarded token names (none without a
 * token: sign-up and login come before one); from any other workload, that workload on its own
 * account, with the roles the trust table gives it.
 */
async function principalOf(caller: Workload, delegate: boolean, accessToken: string | undefined, verifier: TokenVerifier | undefined): Promise<Caller> {
  // A workload on its own account is no user: what it may do comes from its roles alone.
  if (!delegate) return { userId: undefined, roles: rolesOfWorkload(caller) };
  if (accessToken === undefined) return { userId: undefined, roles: [] };
  if (verifier === undefined) throw new Error('an access token came with the call, and this service has no verifier');
  return verifier.verify(accessToken);
}

/** The caller of a call as the domain sees it: the end user, or the calling workload on its own account. */
export function callerOf(ctx: CallContext): Promise<Caller> {
  return ctx.principal();
}

type ServingStatus = health.HealthCheckResponse_ServingStatus;
const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = health.HealthCheckResponse_ServingStatus;

/** grpc.health.v1: open to every peer (orchestrators probe it without the service credential). */
class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{ service: string; write: (s: ServingStatus) => void }>();

  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers) if (w.service === service) w.write(status);
  }

  setAll(status: ServingStatus): void {
    for (const service of this.statuses.keys()) this.set(service, status);
  }

  binding(): ServiceBinding {
    const implementation: health.HealthServer = {
      check: (call, callback) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else callback(null, { status });
      },
      watch: (call) => {
        const service = call.request.service;
        const watcher = { service, write: (status: ServingStatus) => call.write({ status }) };
        this.watchers.add(watcher);
        call.on('cancelled', () => this.watchers.delete(watcher));
        watcher.write(this.statuses.get(service) ?? SERVICE_UNKNOWN);
      },
    };
    return { definition: health.HealthService, implementation };
  }
}

export interface RunningGrpcServer {
  readonly port: number;
  setServing(serving: boolean): void;
  /** Stops taking calls, lets in-flight ones finish (up to the grace period), then closes. */
  shutdown(graceMs?: number): Promise<void>;
}

export async function startGrpcServer(opts: {
  host: string;
  port: number;
  services: readonly ServiceBinding[];
  /** The server's own identity; callers must present one from the same CA. */
  identity: WorkloadIdentity;
  logger: Logger;
}): Promise<RunningGrpcServer> {
  const server = new grpc.Server(SERVER_OPTIONS);
  const healthRegistry = new HealthRegistry();
  for (const s of opts.services) {
    server.addService(s.definition, s.implementation);
    const first = Object.values(s.definition)[0];
    const serviceName = first ? first.path.split('/')[1] ?? '' : '';
    healthRegistry.set(serviceName, NOT_SERVING);
  }
  healthRegistry.set('', NOT_SERVING);
  const health = healthRegistry.binding();
  server.addService(health.definition, health.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, serverCredentials(opts.identity), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  opts.logger.info({ port }, 'gRPC server listening');
  return {
    port,
    setServing: (serving) => healthRegistry.setAll(serving ? SERVING : NOT_SERVING),
    shutdown: (graceMs = SHUTDOWN_GRACE_MS) =>
      new Promise<void>((resolve) => {
        healthRegistry.setAll(NOT_SERVING);
        const timer = setTimeout(() => {
          opts.logger.warn('in-flight calls outlived the grace period; forcing shutdown');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** An error answered by a peer, with its stable code when the peer sent one. */
export class RemoteCallError extends Error {
  constructor(
    readonly grpcCode: grpc.status,
    readonly code: string,
    message: string,
    readonly fields: readonly { field: string; message: string }[] = [],
    /** When the peer said how long to wait before trying again (whole seconds). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'RemoteCallError';
  }
}

function toRemoteError(err: grpc.ServiceError): RemoteCallError {
  const code = err.metadata?.get(ERROR_CODE_METADATA_KEY)[0];
  const fieldsRaw = err.metadata?.get(ERROR_FIELDS_METADATA_KEY)[0];
  let fields: { field: string; message: string }[] = [];
  if (Buffer.isBuffer(fieldsRaw)) {
    try {
      fields = JSON.parse(fieldsRaw.toString('utf8')) as typeof fields;
    } catch {
      fields = [];
    }
  }
  const retryRaw = Number(err.metadata?.get(ERROR_RETRY_AFTER_METADATA_KEY)[0]);
  const retryAfterSeconds = Number.isSafeInteger(retryRaw) && retryRaw > 0 && retryRaw <= MAX_RETRY_AFTER_S ? retryRaw : undefined;
  return new RemoteCallError(err.code, typeof code === 'string' ? code : grpc.status[err.code] ?? 'UNKNOWN', err.details || err.message, fields, retryAfterSeconds);
}

export interface CallOptions {
  timeoutMs?: number;
  /** The call being served, whose deadline and identity propagate downstream. */
  parent?: CallContext;
  /** The end user's access token, forwarded by a workload that speaks for users. */
  accessToken?: string;
  requestId?: string;
}

export type UnaryInvoker<Res> = (
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => unknown;

/**
 * Makes internal calls: attaches the end user's access token and a deadline that never outlives the
 * parent call's, and turns failures into RemoteCallError. The workload's own identity travels in
 * the channel's certificate (createClient), not in the call.
 */
export class GrpcCaller {
  unary<Res>(invoke: UnaryInvoker<Res>, opts: CallOptions = {}): Promise<Res> {
    const md = new grpc.Metadata();
    const requestId = opts.requestId ?? opts.parent?.requestId;
    if (requestId) md.set(REQUEST_ID_HEADER, requestId);
    if (opts.parent?.traceparent) md.set(TRACEPARENT_HEADER, opts.parent.traceparent);
    // The user's token never travels on from a parent call: a service downstream of another acts
    // as that service, so a token seen by one workload cannot be replayed by it elsewhere.
    if (opts.accessToken) md.set(ACCESS_TOKEN_HEADER, `Bearer ${opts.accessToken}`);
    let deadlineMs = Date.now() + (opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    if (opts.parent) deadlineMs = Math.min(deadlineMs, opts.parent.deadline.getTime());
    return new Promise<Res>((resolve, reject) => {
      invoke(md, { deadline: new Date(deadlineMs) }, (err, res) => (err ? reject(toRemoteError(err)) : resolve(res)));
    });
  }
}

export type GrpcClient = grpc.Client;
export type ClientCtor<C> = (new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => C) & { readonly service: grpc.ServiceDefinition };

/**
 * A client of the workload that serves `ctor`'s service, calling as `identity`. The server's
 * certificate must name that workload (its DNS name is checked, whatever the address), so a
 * workload holding another's address cannot pose as it.
 */
export function createClient<C extends grpc.Client>(ctor: ClientCtor<C>, address: string, identity: WorkloadIdentity): C {
  const first = Object.values(ctor.service)[0];
  const server = first ? serverOf(first.path) : undefined;
  if (server === undefined) throw new Error(`no workload serves ${first?.path ?? 'this client'}`);
  return new ctor(address, channelCredentials(identity), { ...CLIENT_OPTIONS, 'grpc.ssl_target_name_override': server });
}

/** The server name a health probe asks for; any workload's certificate answers it. */
const HEALTH_PROBE_SERVER_NAME = 'bank-health-probe';

/** Asks a peer's grpc.health.v1 whether it is SERVING; any workload of the bank's CA may answer. */
export async function checkHealth(address: string, identity: WorkloadIdentity, timeoutMs = DEFAULT_CALL_TIMEOUT_MS, service = ''): Promise<boolean> {
  // A name rather than the address for TLS's server name: SNI may not carry an IP address (RFC 6066).
  const client = new health.HealthClient(address, channelCredentials(identity, { anyWorkload: true }), { ...CLIENT_OPTIONS, 'grpc.ssl_target_name_override': HEALTH_PROBE_SERVER_NAME });
  try {
    const res = await new Promise<health.HealthCheckResponse>((resolve, reject) =>
      client.check({ service }, new grpc.Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    return res.status === SERVING;
  } catch {
    return false;
  } finally {
    client.close();
  }
}
