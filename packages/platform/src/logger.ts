import pino from 'pino';
import { traceFields } from './trace';

export type Logger = pino.Logger;

/**
 * Paths never written to a log. pino's redaction covers fixed depths, so each secret name is
 * listed at the depths our log calls use (top level, one and two objects down).
 */
const SECRET_KEYS = [
  'password',
  'newPassword',
  'passwordHash',
  'password_hash',
  'token',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'authorization',
  'Authorization',
  'cookie',
  'secret',
  'privateKey',
  'serviceToken',
  'x-service-token',
];

export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const dot = key.startsWith('[') ? key : `.${key}`;
  return [key, `*${dot}`, `*.*${dot}`];
});

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: service,
      level,
      base: { service },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: pino.stdSerializers.err },
      // Every line written inside a trace carries its ids (nothing when tracing is off).
      mixin: traceFields,
    },
    destination ?? pino.destination({ sync: false }),
  );
}
