import { Container } from 'inversify';
import { CURRENCY_SCALES, systemClock, type Currency } from '@bank/kernel';
import { Ledger } from '@bank/ledger-core';
import { PostgresLedgerStore, ledgerMigrations } from '@bank/ledger-postgres';
import { createLogger, type Logger, type StartedService, startServiceRuntime, TYPES } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { accountEventHandlers } from './events';
import { ledgerGrpcService } from './grpc';
import { startHoldExpirySweeper } from './sweeper';

/** Enough connections for the batches in flight, the consumer, the sweeper and the reads. */
const POOL_MAX = 16;

/** The composition root of transaction-service: the only place that wires its parts together. */
export function buildContainer(config: Config): Container {
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(createLogger(SERVICE_NAME, config.LOG_LEVEL));
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (logger: Logger) => async () => {
      let ledger: Ledger | undefined;
      let store: PostgresLedgerStore | undefined;
      const ledgerOf = (db: ConstructorParameters<typeof PostgresLedgerStore>[0]) => {
        store ??= new PostgresLedgerStore(db);
        ledger ??= new Ledger(store, systemClock, {
          windowMs: config.LEDGER_BATCH_WINDOW_MS,
          maxTransfers: config.LEDGER_BATCH_MAX_TRANSFERS,
          maxInFlight: config.LEDGER_BATCH_MAX_IN_FLIGHT,
          maxQueuedTransfers: config.LEDGER_BATCH_MAX_QUEUED_TRANSFERS,
          defaultTimeoutSeconds: config.LEDGER_PENDING_TIMEOUT_S,
        });
        return { ledger, store };
      };
      return startServiceRuntime({
        name: SERVICE_NAME,
        logger,
        databaseUrl: config.LEDGER_DATABASE_URL,
        migrations: ledgerMigrations,
        poolMax: POOL_MAX,
        // System accounts exist before the first CreateTransfers can name them.
        prepare: (db) => ledgerOf(db).ledger.ensureSystemAccounts(Object.keys(CURRENCY_SCALES) as Currency[]),
        grpc: { host: config.BIND_HOST, port: config.LEDGER_GRPC_PORT },
        queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
        services: (db, relay) => {
          const { ledger: l, store: s } = ledgerOf(db);
          s.onEventsCommitted = () => relay.nudge();
          return [ledgerGrpcService(l, { serviceToken: config.SERVICE_TOKEN, logger })];
        },
        consumer: { name: 'transaction-service', handlers: (db) => accountEventHandlers(ledgerOf(db).ledger) },
        background: (db) => [startHoldExpirySweeper(ledgerOf(db).ledger, config.LEDGER_EXPIRY_SWEEP_MS, logger)],
      });
    },
    [TYPES.Logger],
  );
  return container;
}
