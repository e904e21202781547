import { createPrivateKey } from 'node:crypto';
import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';
import { DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS } from '@bank/contracts';

export const SERVICE_NAME = 'auth-service';

export const schema = {
  ...commonSchema,
  AUTH_DATABASE_URL: databaseUrl('PostgreSQL database of auth-service'),
  AUTH_GRPC_PORT: v.port('gRPC port of auth-service', DEFAULT_GRPC_PORTS['auth-service']),
  AUTH_METRICS_PORT: v.port('HTTP port of auth-service\'s Prometheus metrics (GET /metrics); 0 picks a free one', DEFAULT_METRICS_PORTS['auth-service']),
  // Empty locally: the key pair is then generated on first start and kept under BANK_DATA_DIR.
  JWT_PRIVATE_KEY: v.pem('RSA private key that signs access tokens (PEM; \\n for newlines)', (pem) => {
    if (createPrivateKey(pem).asymmetricKeyType !== 'rsa') throw new Error('not an RSA key');
  }, { default: '' }),
  JWT_KEY_ID: v.string('key id (kid) of the signing key', { default: 'local' }),
  JWT_ISSUER: v.url('issuer (iss) of access tokens', ['https', 'http'], { default: 'https://bank.local' }),
  JWT_AUDIENCE: v.string('audience (aud) of access tokens', { default: 'bank-api' }),
  JWT_ACCESS_TTL_S: v.int('lifetime of an access token, seconds', { default: 900, min: 60, max: 3600 }),
  AUTH_REFRESH_TTL_S: v.int('lifetime of a refresh token, seconds', { default: 30 * 24 * 3600, min: 3600, max: 90 * 24 * 3600 }),
  // 12 in production; tests run with 4 so that a suite of signups takes seconds, not minutes.
  AUTH_BCRYPT_COST: v.int('bcrypt cost factor', { default: 12, min: 4, max: 15 }),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env?: NodeJS.ProcessEnv): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
