import { v } from './config';

/**
 * Every environment variable any part of the bank reads. A variable with a bank prefix outside
 * this list is refused at start (a typo would otherwise be silently ignored); a unit test keeps
 * this list, the apps' schemas and .env.example in step.
 */
export const KNOWN_ENV_VARS = [
  'LOG_LEVEL',
  'BANK_TLS_DIR',
  'REDIS_URL',
  'REDIS_QUEUE_PREFIX',
  'BIND_HOST',
  'AUTH_DATABASE_URL',
  'AUTH_GRPC_PORT',
  'AUTH_GRPC_ADDR',
  'AUTH_METRICS_PORT',
  'USER_DATABASE_URL',
  'USER_GRPC_PORT',
  'USER_GRPC_ADDR',
  'USER_METRICS_PORT',
  'LEDGER_DATABASE_URL',
  'LEDGER_GRPC_PORT',
  'LEDGER_GRPC_ADDR',
  'LEDGER_METRICS_PORT',
  'LEDGER_BATCH_WINDOW_MS',
  'LEDGER_BATCH_MAX_TRANSFERS',
  'LEDGER_PENDING_TIMEOUT_S',
  'LEDGER_EXPIRY_SWEEP_MS',
  'LEDGER_BATCH_MAX_IN_FLIGHT',
  'LEDGER_BATCH_MAX_QUEUED_TRANSFERS',
  'PAYMENT_DATABASE_URL',
  'PAYMENT_GRPC_PORT',
  'PAYMENT_GRPC_ADDR',
  'PAYMENT_METRICS_PORT',
  'PAYMENT_HOLD_TIMEOUT_S',
  'PAYMENT_DAILY_LIMIT',
  'PAYMENT_SWEEP_MS',
  'PAYMENT_FAILPOINTS',
  'NOTIFICATION_DATABASE_URL',
  'NOTIFICATION_GRPC_PORT',
  'NOTIFICATION_GRPC_ADDR',
  'NOTIFICATION_METRICS_PORT',
  'SMTP_URL',
  'MAIL_FROM',
  'SMTP_OAUTH2_CLIENT_ID',
  'SMTP_OAUTH2_CLIENT_SECRET',
  'SMTP_OAUTH2_REFRESH_TOKEN',
  'SMTP_MAX_CONNECTIONS',
  'SMTP_MAX_MESSAGES_PER_SECOND',
  'SMTP_SEND_TIMEOUT_MS',
  'EMAIL_MAX_ATTEMPTS',
  'JWT_PRIVATE_KEY',
  'JWT_KEY_ID',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'JWT_ACCESS_TTL_S',
  'AUTH_REFRESH_TTL_S',
  'AUTH_BCRYPT_COST',
  'GATEWAY_PORT',
  'GATEWAY_OPS_PORT',
  'GATEWAY_TRUSTED_PROXY_HOPS',
  'GATEWAY_RATE_LIMIT_PER_MIN',
  'GATEWAY_AUTH_RATE_LIMIT_PER_MIN',
  'BANK_DATA_DIR',
  'BANK_GATEWAY_URL',
] as const;

/** Variables every service reads. */
export const commonSchema = {
  LOG_LEVEL: v.oneOf('pino log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  // No shared secret inside the bank: each workload proves who it is with its own certificate.
  BANK_TLS_DIR: v.string("folder with ca.crt and this workload's <name>.crt and <name>.key (bank-cli up makes them in BANK_DATA_DIR/tls)"),
  REDIS_URL: v.url('Redis for queues and rate limits', ['redis', 'rediss'], { default: 'redis://127.0.0.1:6379' }),
  REDIS_QUEUE_PREFIX: v.string('key prefix of the event queues, so that several banks can share one Redis', { default: 'bank' }),
  BIND_HOST: v.string('address the servers listen on', { default: '127.0.0.1' }),
};

export function databaseUrl(doc: string) {
  return v.url(doc, ['postgres', 'postgresql'], { secret: true });
}
