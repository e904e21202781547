import type { Container } from 'inversify';
import { isUuid, paymentIdOfReference, type Clock } from '@bank/kernel';
import { Payments, Waiters, accountProjection, type AccountDirectory } from '@bank/payments-core';
import { PAYMENT_ENTITIES, PAYMENT_SETTLED_CHANNEL, PostgresAccountDirectory, PostgresPaymentStore, paymentsMigrations } from '@bank/payments-postgres';
import { ServiceRuntime, TYPES, createLogger, serviceContainer, listen, type EventHandlers, type Logger, type Persistence, type Running, type StartedService, authTokenVerifier, loadIdentity, wakeUp } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { paymentGrpcService } from './grpc';
import { PaymentTimeline } from './timeline';
import { GrpcPaymentLedger, UserServiceAccounts } from './ledger';
import { registerSagaMetrics } from './metrics';

/** Enough connections for many sagas' short transactions at once, the consumer, the sweeper and the reads. */
const POOL_MAX = 16;

/**
 * What payment-service does with the events routed to it: account.* keep its projection of
 * accounts, in the inbox transaction; transfer.* and payment.requested take a saga up again (a
 * reply lost to a crash, a saga accepted while this process was away). The saga runs outside the
 * inbox transaction, started once the inbox row has committed; the sweeper finds it if this
 * process dies first.
 */
export function paymentEventHandlers(payments: Pick<Payments, 'onLedgerTransfer' | 'kick'>, directoryIn: (tx: Persistence) => AccountDirectory, onDriveError: (paymentId: string, err: unknown) => void): EventHandlers {
  const setState = (state: 'active' | 'frozen' | 'closed') => (p: { accountId: string }, envelope: { sequence: number }, tx: Persistence) =>
    accountProjection.stateChanged(directoryIn(tx), p.accountId, state, envelope.sequence);
  // Wake-ups: a saga's drive reads its own state and is idempotent, so these events need no inbox row.
  const ledgerEvent = (p: { reference: string }) => {
    const paymentId = paymentIdOfReference(p.reference);
    if (paymentId === undefined || !isUuid(paymentId)) return;
    // Resolves once the saga's state is read and its drive started (not finished).
    return payments.onLedgerTransfer(paymentId).catch((err: unknown) => onDriveError(paymentId, err));
  };
  return {
    'account.opened': (p, _e, tx) => accountProjection.opened(directoryIn(tx), { id: p.accountId, ownerId: p.ownerId, currency: p.currency, state: 'active' }),
    'account.frozen': setState('frozen'),
    'account.unfrozen': setState('active'),
    'account.closed': setState('closed'),
    'transfer.pending': wakeUp<'transfer.pending'>(ledgerEvent),
    'transfer.posted': wakeUp<'transfer.posted'>(ledgerEvent),
    'transfer.voided': wakeUp<'transfer.voided'>(ledgerEvent),
    'transfer.expired': wakeUp<'transfer.expired'>(ledgerEvent),
    'payment.requested': wakeUp<'payment.requested'>((p) => payments.kick(p.paymentId)),
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

const PAYMENT_LEDGER = Symbol.for('PaymentLedger');
const USER_ACCOUNTS = Symbol.for('UserServiceAccounts');
const PAYMENTS = Symbol.for('Payments');

/** The composition root of payment-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const identity = loadIdentity(config.BANK_TLS_DIR, SERVICE_NAME);
  const container = serviceContainer(config, {
    metricsPort: config.PAYMENT_METRICS_PORT,
    metricsHost: config.BIND_HOST,
    name: SERVICE_NAME,
    identity,
    logger,
    databaseUrl: config.PAYMENT_DATABASE_URL,
    migrations: paymentsMigrations,
    entities: PAYMENT_ENTITIES,
    poolMax: POOL_MAX,
    queues: { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX },
  });
  container.bind<GrpcPaymentLedger>(PAYMENT_LEDGER).toResolvedValue(() => new GrpcPaymentLedger(config.LEDGER_GRPC_ADDR, identity), []).inSingletonScope();
  container.bind<UserServiceAccounts>(USER_ACCOUNTS).toResolvedValue(() => new UserServiceAccounts(config.USER_GRPC_ADDR, identity), []).inSingletonScope();
  container.bind<Waiters>(Waiters).toResolvedValue(() => new Waiters(), []).inSingletonScope();
  const failpoints = new Set(config.PAYMENT_FAILPOINTS.split(',').filter((f) => f !== ''));
  const onDriveError = (paymentId: string, err: unknown) => logger.debug({ err, paymentId }, 'saga step could not be performed; the sweeper retries it');
  container
    .bind<Payments>(PAYMENTS)
    .toResolvedValue(
      (runtime: ServiceRuntime, ledger: GrpcPaymentLedger, users: UserServiceAccounts, clock: Clock, waiters: Waiters) =>
        new Payments(new PostgresPaymentStore(runtime.db), ledger, new PostgresAccountDirectory(runtime.db, users.find), clock, waiters, {
          holdTimeoutSeconds: config.PAYMENT_HOLD_TIMEOUT_S,
          dailyLimitMinor: BigInt(config.PAYMENT_DAILY_LIMIT),
          onDriveError,
          failpoint:
            failpoints.size === 0
              ? undefined
              : (name) => {
                  // A crash test's failpoint: die the way a crash does, with no chance to clean up.
                  if (failpoints.has(name)) process.kill(process.pid, 'SIGKILL');
                },
        }),
      [TYPES.Runtime, PAYMENT_LEDGER, USER_ACCOUNTS, TYPES.Clock, Waiters],
    )
    .inSingletonScope();
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (runtime: ServiceRuntime, payments: Payments, waiters: Waiters, ledger: GrpcPaymentLedger, users: UserServiceAccounts) => () =>
      runtime.start(async () => {
        registerSagaMetrics(runtime.metrics, runtime.db);
        if (failpoints.size > 0) logger.warn({ failpoints: [...failpoints] }, 'crash-test failpoints are set: this process kills itself at them');
        // Payments another replica ended wake this one's waiters; after a reconnect (notifications
        // were lost meanwhile) every waiter looks again.
        const stopListening = listen(config.PAYMENT_DATABASE_URL, PAYMENT_SETTLED_CHANNEL, (id) => waiters.notify(id), logger, () => waiters.notifyAll());
        const tokens = authTokenVerifier(config, identity);
        const timeline = new PaymentTimeline(new PostgresPaymentStore(runtime.db), runtime.db, { ledger: config.LEDGER_GRPC_ADDR, notification: config.NOTIFICATION_GRPC_ADDR }, identity);
        return {
          grpc: { host: config.BIND_HOST, port: config.PAYMENT_GRPC_PORT },
          services: [paymentGrpcService(payments, timeline, { logger, verifier: tokens.verifier })],
          consumer: { name: 'payment-service', handlers: paymentEventHandlers(payments, (tx) => new PostgresAccountDirectory(tx, users.find), onDriveError) },
          background: [() => startSweeper(payments, config.PAYMENT_SWEEP_MS, logger)],
          close: async () => {
            await stopListening();
            ledger.close();
            users.close();
            tokens.close();
            timeline.close();
          },
        };
      }),
    [TYPES.Runtime, PAYMENTS, Waiters, PAYMENT_LEDGER, USER_ACCOUNTS],
  );
  return container;
}
