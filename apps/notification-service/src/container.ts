import { Container } from 'inversify';
import { createLogger, createMailTransport, createQueue, DependencyHealth, type Logger, type StartedService, startServiceRuntime, TYPES } from '@bank/platform';
import { SERVICE_NAME, type Config } from './config';
import { notificationGrpcService } from './grpc';
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

/** The composition root of notification-service: the only place that wires its parts together. */
export function buildContainer(config: Config, logger: Logger = createLogger(SERVICE_NAME, config.LOG_LEVEL)): Container {
  const container = new Container();
  container.bind<Config>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(logger);
  container.bind<() => Promise<StartedService>>(TYPES.Start).toResolvedValue(
    (log: Logger) => async () => {
      const connection = { redisUrl: config.REDIS_URL, prefix: config.REDIS_QUEUE_PREFIX };
      const queue = createQueue<EmailJob>(EMAIL_QUEUE, connection, 'worker', new DependencyHealth('redis', log));
      queue.backoffStrategies.set(RETRY_STRATEGY, jitteredExponential(config.EMAIL_MAX_ATTEMPTS));
      const transport = createMailTransport({
        smtpUrl: config.SMTP_URL,
        maxConnections: config.SMTP_MAX_CONNECTIONS,
        maxMessagesPerSecond: config.SMTP_MAX_MESSAGES_PER_SECOND,
        timeoutMs: config.SMTP_SEND_TIMEOUT_MS,
        oauth2: config.SMTP_OAUTH2_CLIENT_ID ? { clientId: config.SMTP_OAUTH2_CLIENT_ID, clientSecret: config.SMTP_OAUTH2_CLIENT_SECRET, refreshToken: config.SMTP_OAUTH2_REFRESH_TOKEN } : undefined,
      });
      let dispatcher: EmailDispatcher | undefined;
      const started = await startServiceRuntime({
        name: SERVICE_NAME,
        logger: log,
        databaseUrl: config.NOTIFICATION_DATABASE_URL,
        migrations: notificationMigrations,
        grpc: { host: config.BIND_HOST, port: config.NOTIFICATION_GRPC_PORT },
        queues: connection,
        services: (db) => [notificationGrpcService(db, { serviceToken: config.SERVICE_TOKEN, logger: log })],
        consumer: { name: 'notification-service', handlers: () => notificationEventHandlers(() => dispatcher?.nudge()) },
        background: (db) => {
          dispatcher = new EmailDispatcher(db, queue, config.EMAIL_MAX_ATTEMPTS, log);
          dispatcher.start();
          const sender = new EmailSender(db, transport, { from: config.MAIL_FROM, maxAttempts: config.EMAIL_MAX_ATTEMPTS, leaseMs: LEASE_SEND_TIMEOUTS * config.SMTP_SEND_TIMEOUT_MS + LEASE_MARGIN_MS }, log);
          processEmails(queue, sender, EMAIL_CONCURRENCY);
          return [{ stop: async () => dispatcher?.stop() }, { stop: async () => void (await queue.close(config.SMTP_SEND_TIMEOUT_MS).catch(() => undefined)) }];
        },
      });
      return {
        ...started,
        async stop() {
          await started.stop();
          transport.close();
        },
      };
    },
    [TYPES.Logger],
  );
  return container;
}
