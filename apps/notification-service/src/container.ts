import type { Container } from 'inversify';
import type BeeQueue from 'bee-queue';
import type { Clock } from '@bank/kernel';
import { createLogger, createMailTransport, createQueue, DependencyHealth, serviceContainer, ServiceRuntime, TYPES, type Logger, type StartedService, loadIdentity } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { notificationGrpcService } from './grpc';
import { NOTIFICATION_ENTITIES } from './entities';
import { notificationMigrations } from './migrations';
import { EMAIL_QUEUE, EmailDispatcher, EmailSender, RETRY_STRATEGY, jitteredExponential, notificationEventHandlers, processEmails, type EmailJob } from './notifications';

/** Emails sent at once by one process; the transport's rate limit decides the pace. */
const EMAIL_CONCURRENCY = 4;
/**
 * A claim on a delivery outlives any send of a live worker (connect, greeting and the replies
 * each wait at most SMTP_SEND_TIMEOUT_MS); an older claim is a dead worker's, and is taken over.
 */
const LEASE_SEND_TIMEOUTS = 3;
const LEASE_MARGIN_MS = 2_000;

const EMAIL_QUEUE_KEY = Symbol.for('EmailQueue');
const MAIL_TRANSPORT = Symbol.for('MailTransport');
type MailTransport = ReturnType<typeof createMailTransport>;

/** The composition root of notification-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const identity = loadIdentity(config.BANK_TLS_DIR, SERVICE_NAME);
  const connection = { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX };
  const container = serviceContainer(config, {
    metricsPort: config.NOTIFICATION_METRICS_PORT,
    metricsHost: config.BIND_HOST, name: SERVICE_NAME, identity, logger, databaseUrl: config.NOTIFICATION_DATABASE_URL, migrations: notificationMigrations, entities: NOTIFICATION_ENTITIES, queues: connection });
  container
    .bind<BeeQueue<EmailJob>>(EMAIL_QUEUE_KEY)
    .toResolvedValue(() => {
      const queue = createQueue<EmailJob>(EMAIL_QUEUE, connection, 'worker', new DependencyHealth('redis', logger));
      queue.backoffStrategies.set(RETRY_STRATEGY, jitteredExponential(config.EMAIL_MAX_ATTEMPTS));
      return queue;
    }, [])
    .inSingletonScope();
  container
    .bind<MailTransport>(MAIL_TRANSPORT)
    .toResolvedValue(
      () =>
        createMailTransport({
          smtpUrl: config.SMTP_URL,
          maxConnections: config.SMTP_MAX_CONNECTIONS,
          maxMessagesPerSecond: config.SMTP_MAX_MESSAGES_PER_SECOND,
          timeoutMs: config.SMTP_SEND_TIMEOUT_MS,
          oauth2: config.SMTP_OAUTH2_CLIENT_ID ? { clientId: config.SMTP_OAUTH2_CLIENT_ID, clientSecret: config.SMTP_OAUTH2_CLIENT_SECRET, refreshToken: config.SMTP_OAUTH2_REFRESH_TOKEN } : undefined,
        }),
      [],
    )
    .inSingletonScope();
  container
    .bind<EmailDispatcher>(EmailDispatcher)
    .toResolvedValue((runtime: ServiceRuntime, clock: Clock, queue: BeeQueue<EmailJob>) => new EmailDispatcher(runtime.db, clock, queue, config.EMAIL_MAX_ATTEMPTS, logger), [TYPES.Runtime, TYPES.Clock, EMAIL_QUEUE_KEY])
    .inSingletonScope();
  container
    .bind<EmailSender>(EmailSender)
    .toResolvedValue(
      (runtime: ServiceRuntime, clock: Clock, transport: MailTransport) =>
        new EmailSender(runtime.db, clock, transport, { from: config.MAIL_FROM, maxAttempts: config.EMAIL_MAX_ATTEMPTS, leaseMs: LEASE_SEND_TIMEOUTS * config.SMTP_SEND_TIMEOUT_MS + LEASE_MARGIN_MS }, logger),
      [TYPES.Runtime, TYPES.Clock, MAIL_TRANSPORT],
    )
    .inSingletonScope();
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (runtime: ServiceRuntime, clock: Clock, queue: BeeQueue<EmailJob>, transport: MailTransport, dispatcher: EmailDispatcher, sender: EmailSender) => () =>
      runtime.start({
        grpc: { host: config.BIND_HOST, port: config.NOTIFICATION_GRPC_PORT },
        services: [notificationGrpcService(runtime.db, { logger })],
        consumer: { name: 'notification-service', handlers: notificationEventHandlers(clock, () => dispatcher.nudge()) },
        background: [
          () => {
            dispatcher.start();
            processEmails(queue, sender, EMAIL_CONCURRENCY);
            return { stop: () => dispatcher.stop() };
          },
          () => ({ stop: async () => void (await queue.close(config.SMTP_SEND_TIMEOUT_MS).catch(() => undefined)) }),
        ],
        close: () => transport.close(),
      }),
    [TYPES.Runtime, TYPES.Clock, EMAIL_QUEUE_KEY, MAIL_TRANSPORT, EmailDispatcher, EmailSender],
  );
  return container;
}
