import { Container } from 'inversify';
import { isUuid, systemClock } from '@bank/kernel';
import { Payments, Waiters, paymentIdOfReference } from '@bank/payments-core';
import { PAYMENT_ENTITIES, PAYMENT_SETTLED_CHANNEL, PostgresAccountDirectory, PostgresPaymentStore, paymentsMigrations } from '@bank/payments-postgres';
import { createLogger, type EventHandlers, listen, type Logger, type Running, type StartedService, startServiceRuntime, TYPES } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { paymentGrpcService } from './grpc';
import { GrpcPaymentLedger, UserServiceAccounts } from './ledger';

/** Enough connections for many sagas' short transactions at once, the consumer, the sweeper and the reads. */
const POOL_MAX = 16;

/**
 * What payment-service does with the events routed to it: account.* keep its projection of
 * accounts, in the inbox transaction; transfer.* and payment.requested take a saga up again (a
 * reply lost to a crash, a saga accepted while this process was away). The saga runs outside the
 * inbox transaction, started once the inbox row has committed; the sweeper finds it if this
 * process dies first.
 */
export function paymentEventHandlers(payments: Pick<Payments, 'onAccountOpened' | 'onAccountState' | 'onLedgerTransfer' | 'kick'>, onDriveError: (paymentId: string, err: unknown) => void): EventHandlers {
  const setState = (state: 'active' | 'frozen' | 'closed') => (p: { accountId: string }, envelope: { sequence: number }) => payments.onAccountState(p.accountId, state, envelope.sequence);
  const ledgerEvent = async (p: { reference: string }) => {
    const paymentId = paymentIdOfReference(p.reference);
    if (paymentId === undefined || !isUuid(paymentId)) return;
    return () => void payments.onLedgerTransfer(paymentId).catch((err: unknown) => onDriveError(paymentId, err));
  };
  return {
    'account.opened': (p) => payments.onAccountOpened({ id: p.accountId, ownerId: p.ownerId, currency: p.currency, state: 'active' }),
    'account.frozen': setState('frozen'),
    'account.unfrozen': setState('active'),
    'account.closed': setState('closed'),
    'transfer.pending': ledgerEvent,
    'transfer.posted': ledgerEvent,
    'transfer.voided': ledgerEvent,
    'transfer.expired': ledgerEvent,
    'payment.requested': async (p) => () => payments.kick(p.paymentId),
  };
}

/** Takes stalled sagas and deposits up again; one round at a time, never overlapping. */
function startSweeper(payments: Payments, intervalMs: number, logger: Logger): Running {
  let round: Promise<void> | undefined;
  const timer = setInterval(() => {
    round ??= payments
      .sweep()
      .then((r) => {
        if (r.payments + r.deposits > 0) logger.debug(r, 'sweeper took up stalled work');
      })
      .catch((err: unknown) => logger.warn({ err }, 'payment sweep failed; will retry'))
      .finally(() => (round = undefined));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await round;
    },
  };
}

/** The composition root of payment-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(logger);
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (log: Logger) => async () => {
      const ledger = new GrpcPaymentLedger(config.LEDGER_GRPC_ADDR, config.SERVICE_TOKEN);
      const users = new UserServiceAccounts(config.USER_GRPC_ADDR, config.SERVICE_TOKEN);
      const waiters = new Waiters();
      const failpoints = new Set(config.PAYMENT_FAILPOINTS.split(',').filter((f) => f !== ''));
      if (failpoints.size > 0) log.warn({ failpoints: [...failpoints] }, 'crash-test failpoints are set: this process kills itself at them');
      const onDriveError = (paymentId: string, err: unknown) => log.debug({ err, paymentId }, 'saga step could not be performed; the sweeper retries it');
      let payments: Payments | undefined;
      const paymentsOf = (db: ConstructorParameters<typeof PostgresPaymentStore>[0]) =>
        (payments ??= new Payments(new PostgresPaymentStore(db), ledger, new PostgresAccountDirectory(db, users.find), systemClock, waiters, {
          holdTimeoutSeconds: config.PAYMENT_HOLD_TIMEOUT_S,
          dailyLimitMinor: BigInt(config.PAYMENT_DAILY_LIMIT),
          onDriveError,
          failpoint: failpoints.size === 0 ? undefined : (name) => {
            // A crash test's failpoint: die the way a crash does, with no chance to clean up.
            if (failpoints.has(name)) process.kill(process.pid, 'SIGKILL');
          },
        }));
      // Payments another replica ended wake this one's waiters; after a reconnect (notifications
      // were lost meanwhile) every waiter looks again.
      const stopListening = listen(config.PAYMENT_DATABASE_URL, PAYMENT_SETTLED_CHANNEL, (id) => waiters.notify(id), log, () => waiters.notifyAll());
      const started = await startServiceRuntime({
        name: SERVICE_NAME,
        logger: log,
        databaseUrl: config.PAYMENT_DATABASE_URL,
        migrations: paymentsMigrations,
        entities: PAYMENT_ENTITIES,
        poolMax: POOL_MAX,
        grpc: { host: config.BIND_HOST, port: config.PAYMENT_GRPC_PORT },
        queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
        services: (db) => [paymentGrpcService(paymentsOf(db), { serviceToken: config.SERVICE_TOKEN, logger: log })],
        consumer: { name: 'payment-service', handlers: (db) => paymentEventHandlers(paymentsOf(db), onDriveError) },
        background: (db) => [startSweeper(paymentsOf(db), config.PAYMENT_SWEEP_MS, log)],
      });
      return {
        ...started,
        async stop() {
          await started.stop();
          await stopListening();
          ledger.close();
          users.close();
        },
      };
    },
    [TYPES.Logger],
  );
  return container;
}
