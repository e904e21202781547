import { createPrivateKey } from 'node:crypto';
import { KNOWN_ENV_VARS, commonSchema, databaseUrl, loadConfigOrExit, v, type ConfigOf } from '@bank/platform';

export const SERVICE_NAME = 'auth-service';

export const schema = {
  ...commonSchema,
  AUTH_DATABASE_URL: databaseUrl('PostgreSQL database of auth-service'),
  AUTH_GRPC_PORT: v.port('gRPC port of auth-service', 50051),
  // Empty locally: the key pair is then generated on first start and kept under BANK_DATA_DIR.
  JWT_PRIVATE_KEY: v.pem('private key that signs access tokens (PEM; \\n for newlines)', (pem) => createPrivateKey(pem), { default: '' }),
  JWT_KEY_ID: v.string('key id (kid) of the signing key', { default: 'local' }),
  JWT_ISSUER: v.url('issuer (iss) of access tokens', ['https', 'http'], { default: 'https://bank.local' }),
  JWT_AUDIENCE: v.string('audience (aud) of access tokens', { default: 'bank-api' }),
};

export type Config = ConfigOf<typeof schema>;

export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigOrExit(SERVICE_NAME, schema, env, KNOWN_ENV_VARS);
}
