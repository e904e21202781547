import { hostname } from 'node:os';
import type { Container } from 'inversify';
import { CURRENCY_SCALES, newId, type Clock, type Currency } from '@bank/kernel';
import { Ledger, type LedgerStore } from '@bank/ledger-core';
import { PostgresLedgerStore, ledgerMigrations } from '@bank/ledger-postgres';
import { ServiceRuntime, TYPES, createLogger, serviceContainer, type Logger, type Persistence, type StartedService, loadIdentity } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { accountEventHandlers, type LedgerIn } from './events';
import { ledgerGrpcService } from './grpc';
import { startHoldExpirySweeper } from './sweeper';
import { ledgerBatchMetrics } from './metrics';
import { WriterLease } from './lease';

/** Enough connections for the batches in flight, the consumer, the sweeper and the reads. */
const POOL_MAX = 16;

const LEDGER_STORE = Symbol.for('LedgerStore');
const LEDGER = Symbol.for('Ledger');
const LEDGER_IN = Symbol.for('LedgerIn');
const LEASE = Symbol.for('WriterLease');
/** The exit code of a process that lost the writer's lease to another (its orchestrator restarts it as a standby). */
export const EXIT_LEASE_LOST = 75;
/** Far above a batch's pause between statements (milliseconds of deciding), well within a failover's bound. */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 5_000;

/** The composition root of transaction-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const identity = loadIdentity(config.BANK_TLS_DIR, SERVICE_NAME);
  const container = serviceContainer(config, {
    metricsPort: config.LEDGER_METRICS_PORT,
    metricsHost: config.BIND_HOST,
    name: SERVICE_NAME,
    identity,
    logger,
    databaseUrl: config.LEDGER_DATABASE_URL,
    migrations: ledgerMigrations,
    poolMax: POOL_MAX,
    // A writer paused inside a transaction would hold the lease row's share lock, and a takeover
    // would wait on it for ever: PostgreSQL ends such a session after this long.
    idleInTransactionTimeoutMs: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
  });
  // The writer's lease: this process writes the ledger only while it holds it (see lease.ts). One
  // that lost it to another exits at once; its writes in flight are fenced, and its orchestrator
  // starts it again as a standby.
  container
    .bind<WriterLease>(LEASE)
    .toResolvedValue(
      (runtime: ServiceRuntime) =>
        new WriterLease(runtime.db, `${SERVICE_NAME}/${hostname()}/${process.pid}/${newId()}`, logger, () => {
          logger.flush();
          process.exit(EXIT_LEASE_LOST);
        }),
      [TYPES.Runtime],
    )
    .inSingletonScope();
  // A batch's events do not wake the outbox relay: they are the sagas' backup path (each step has
  // the ledger's gRPC reply), so the relay's poll carries many batches per round rather than
  // costing a round (six statements and a publish) per batch.
  container
    .bind<LedgerStore>(LEDGER_STORE)
    .toResolvedValue((runtime: ServiceRuntime, lease: WriterLease) => new PostgresLedgerStore(runtime.db, { fence: () => lease.fenceToken() }), [TYPES.Runtime, LEASE])
    .inSingletonScope();
  const batching = {
    windowMs: config.LEDGER_BATCH_WINDOW_MS,
    maxTransfers: config.LEDGER_BATCH_MAX_TRANSFERS,
    maxInFlight: config.LEDGER_BATCH_MAX_IN_FLIGHT,
    maxQueuedTransfers: config.LEDGER_BATCH_MAX_QUEUED_TRANSFERS,
    defaultTimeoutSeconds: config.LEDGER_PENDING_TIMEOUT_S,
  };
  container
    .bind<Ledger>(LEDGER)
    .toResolvedValue((store: LedgerStore, clock: Clock, runtime: ServiceRuntime) => new Ledger(store, clock, { ...batching, onBatch: ledgerBatchMetrics(runtime.metrics) }), [LEDGER_STORE, TYPES.Clock, TYPES.Runtime])
    .inSingletonScope();
  // The account consumer's ledger: its store joins the consumer's transaction.
  container
    .bind<LedgerIn>(LEDGER_IN)
    .toResolvedValue((clock: Clock, lease: WriterLease) => (tx: Persistence) => new Ledger(new PostgresLedgerStore(tx, { fence: () => lease.fenceToken() }), clock, batching), [TYPES.Clock, LEASE]);
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (runtime: ServiceRuntime, ledger: Ledger, ledgerIn: LedgerIn, lease: WriterLease) => () =>
      runtime.start({
        grpc: { host: config.BIND_HOST, port: config.LEDGER_GRPC_PORT },
        services: [ledgerGrpcService(ledger, { logger, isActive: () => lease.isActive() })],
        consumer: { name: 'transaction-service', handlers: accountEventHandlers(ledgerIn) },
        // A standby answers NOT_SERVING and neither consumes nor sweeps until it holds the lease.
        activation: async () => {
          await lease.acquire();
          // System accounts exist before the first CreateTransfers can name them.
          await ledger.ensureSystemAccounts(Object.keys(CURRENCY_SCALES) as Currency[]);
        },
        // Stopped once calls have drained and the consumer has stopped: the sweeper, then the lease
        // is given up, so a standby takes over at once.
        background: [() => lease.running(startHoldExpirySweeper(ledger, config.LEDGER_EXPIRY_SWEEP_MS, logger))],
      }),
    [TYPES.Runtime, LEDGER, LEDGER_IN, LEASE],
  );
  return container;
}
