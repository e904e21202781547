export { ConfigError, loadConfig, loadConfigOrExit, v } from './config';
export type { ConfigOf, Schema, VarSpec } from './config';
export { KNOWN_ENV_VARS, commonSchema, databaseUrl } from './env';
export { ENV_FILE_NAME, findRepoRoot, parseEnvFile, processEnvironment, readEnvFile, withEnvFile } from './dotenv';
export type { EnvFile, Environment } from './dotenv';
export { REDACT_PATHS, createLogger } from './logger';
export type { Logger } from './logger';
export { ERROR_CODE_METADATA_KEY, ERROR_FIELDS_METADATA_KEY, grpcStatusForCode } from './status';
export {
  ACCESS_TOKEN_HEADER,
  CLIENT_OPTIONS,
  DEFAULT_CALL_TIMEOUT_MS,
  GrpcCaller,
  KEEPALIVE_TIME_MS,
  KEEPALIVE_TIMEOUT_MS,
  REQUEST_ID_HEADER,
  RemoteCallError,
  SERVER_OPTIONS,
  SERVICE_CREDENTIAL_REJECTED,
  TRACEPARENT_HEADER,
  callerOf,
  checkHealth,
  createClient,
  implement,
  startGrpcServer,
  toServiceError,
} from './grpc';
export type { CallContext, CallOptions, ClientCtor, GrpcClient, Handlers, RunningGrpcServer, ServiceBinding, UnaryInvoker } from './grpc';
export { CONNECT_TIMEOUT_MS, DEFAULT_POOL_MAX, POOL_ACQUIRE_TIMEOUT_MS, Database, MAX_TRANSACTION_RETRIES, sqlTimestamp, dropDatabase, ensureDatabase, ensureServiceRole, isDatabaseUnavailable, isRetryableSqlError, listen, parseTimeIdCursor, sqlClient, timeIdCursor } from './db';
export type { DatabaseOptions, Isolation, Persistence, SqlClient, SqlStatement } from './db';
export type { EntityManager } from '@mikro-orm/postgresql';
export { platformMigrations } from './migrations';
export { BATCH_ROW_TYPE, MAX_EVENTS_PER_ROW, OUTBOX_BATCH_SIZE, OUTBOX_PAGE_SIZE, OutboxRelay, RELAY_LOCK_HOLD_MAX_MS, appendToOutbox, listOutbox, outboxBatchRow, outboxInsert, replayOutbox, toEnvelopes } from './outbox';
export type { NewEvent, OutboxEntry, OutboxSelection } from './outbox';
export { BeeQueuePublisher, MAX_DELIVERIES, MAX_RETRIES, PUBLISH_TIMEOUT_MS, QUEUE_PREFIX, STALL_INTERVAL_MS, createEventQueue, createQueue, deliveryCounterKey, dropQueueNamespace, queueBacklogs } from './queue';
export { DependencyHealth, backoffMs } from './dependency';
export type { DependencyHealths } from './dependency';
export type { EventPublisher, EventQueue, QueueBacklog, QueueConnection } from './queue';
export { DEAD_LETTER_PAGE_SIZE, EventConsumer, claimInbox, dropDeadLetter, handleEvent, listDeadLetters, requeueDeadLetter, wakeUp } from './inbox';
export type { AfterCommit, DeadLetterRow, EventHandler, EventHandlers, HandleOutcome } from './inbox';
export { SHUTDOWN_TIMEOUT_MS, TYPES, runService } from './lifecycle';
export type { Running } from './lifecycle';
export { createMailTransport } from './mail';
export type { MailTransportOptions } from './mail';
export { ServiceRuntime, checkEventRouting, serviceContainer, serviceMain, startContainer } from './runtime';
export type { ServiceParts, ServiceRuntimeOptions, StartedService } from './runtime';
export { CA_CERT_FILE, callerWorkload, certFile, channelCredentials, keyFile, loadIdentity, serverCredentials } from './identity';
export type { WorkloadIdentity } from './identity';
export { LOCAL_CERT_RENEW_BEFORE_MS, LOCAL_CERT_VALIDITY_MS, issueLocalIdentities } from './pki';
export { ACCEPTED_ALGORITHMS, JWT_ALGORITHM, JWKS_MAX_AGE_MS, JWKS_MAX_STALE_MS, JWKS_REFRESH_MIN_INTERVAL_MS, TokenVerifier, authTokenVerifier, hostPort, tokenVerifierSchema } from './tokens';
export type { Jwk, VerifiedUser } from './tokens';
export { AUDIT_PAGE_SIZE, MAX_AUDIT_REASON_LENGTH, listOperatorActions, recordOperatorAction, redactArguments } from './audit';
export type { AuditRow, OperatorAction } from './audit';
export { MAX_DOWN_STEPS, MIGRATE_ARGUMENT, isMigrateCommand, runMigrateCommand } from './migrate-command';
export type { MigrateAction, MigrateReport } from './migrate-command';
export { LATENCY_BUCKETS_SECONDS, METRICS_PATH, METRICS_QUERY_TIMEOUT_MS, createMetricsRegistry, databaseGauge, secondsOf, startMetricsServer } from './metrics';
export type { MetricsServer } from './metrics';
export { annotateSpan, currentTraceparent, inSpan, traceFields } from './trace';
export { HEALTH_ARGUMENT, isHealthCommand } from './health-command';
