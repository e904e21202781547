import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';
import { DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS } from '@bank/contracts';

export const SERVICE_NAME = 'notification-service';

export const schema = {
  ...commonSchema,
  NOTIFICATION_DATABASE_URL: databaseUrl('PostgreSQL database of notification-service'),
  NOTIFICATION_GRPC_PORT: v.port('gRPC port of notification-service', DEFAULT_GRPC_PORTS['notification-service']),
  NOTIFICATION_METRICS_PORT: v.port('HTTP port of notification-service\'s Prometheus metrics (GET /metrics); 0 picks a free one', DEFAULT_METRICS_PORTS['notification-service']),
  SMTP_URL: v.url('SMTP server: smtp://127.0.0.1:1025 (MailDev), smtps://user:app-password@smtp.gmail.com:465 (Gmail)', ['smtp', 'smtps'], { default: 'smtp://127.0.0.1:1025', secret: true }),
  MAIL_FROM: v.string('sender of the emails', { default: 'Bank <no-reply@bank.local>' }),
  SMTP_OAUTH2_CLIENT_ID: v.string('Gmail OAuth2 (XOAUTH2) client id; with it the user of SMTP_URL authenticates by OAuth2 instead of a password', { default: '' }),
  SMTP_OAUTH2_CLIENT_SECRET: v.string('Gmail OAuth2 client secret', { default: '', secret: true }),
  SMTP_OAUTH2_REFRESH_TOKEN: v.string('Gmail OAuth2 refresh token', { default: '', secret: true }),
  SMTP_MAX_CONNECTIONS: v.int('pooled SMTP connections', { default: 3, min: 1, max: 20 }),
  SMTP_MAX_MESSAGES_PER_SECOND: v.int('messages sent per second at most (Gmail limits senders)', { default: 5, min: 1, max: 1_000 }),
  SMTP_SEND_TIMEOUT_MS: v.int('how long one send may take (connect, greeting, each reply)', { default: 20_000, min: 500, max: 120_000 }),
  EMAIL_MAX_ATTEMPTS: v.int('attempts of one email before it is dead-lettered', { default: 8, min: 1, max: 50 }),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
