import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { configProblems } from '@bank/testkit';
import { loadConfig, v } from './config';
import { KNOWN_ENV_VARS, commonSchema, databaseUrl } from './env';

const schema = {
  ...commonSchema,
  LEDGER_DATABASE_URL: databaseUrl('ledger database'),
  LEDGER_GRPC_PORT: v.port('gRPC port', 50053),
  JWT_PRIVATE_KEY: v.pem('signing key', (pem) => createPrivateKey(pem)),
};

const tlsDir = '/etc/bank/tls';
const good = { BANK_TLS_DIR: tlsDir, LEDGER_DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/ledger', JWT_PRIVATE_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };

const problems = (env: NodeJS.ProcessEnv): string[] => configProblems(schema, env);

describe('loadConfig', () => {
  it('parses good values and applies defaults', () => {
    const cfg = loadConfig(schema, { ...good, LEDGER_GRPC_PORT: '6000' }, KNOWN_ENV_VARS);
    expect(cfg.LEDGER_GRPC_PORT).toBe(6000);
    expect(cfg.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(cfg.LOG_LEVEL).toBe('info');
  });

  it('names every bad variable at once', () => {
    const found = problems({ LEDGER_GRPC_PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(found.map((p) => p.split(':')[0])).toEqual(['BANK_TLS_DIR', 'JWT_PRIVATE_KEY', 'LEDGER_DATABASE_URL', 'LEDGER_GRPC_PORT', 'LOG_LEVEL']);
    expect(found.find((p) => p.startsWith('LEDGER_DATABASE_URL'))).toMatch(/is required/);
  });

  it('rejects a malformed database URL and a malformed key without echoing secrets', () => {
    const found = problems({ ...good, LEDGER_DATABASE_URL: 'mysql://secret-pass@host/db', JWT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----' });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^JWT_PRIVATE_KEY: must be a valid PEM key$/);
    expect(found[1]).toMatch(/^LEDGER_DATABASE_URL: must use postgres or postgresql$/);
    expect(found.join('\n')).not.toContain('secret-pass');
  });

  it('refuses an unknown variable with a bank prefix (a typo) but ignores foreign ones', () => {
    expect(problems({ ...good, LEDGER_DATABSE_URL: 'x', PATH: '/usr/bin', HOME: '/root' })).toEqual([
      'LEDGER_DATABSE_URL: unknown variable (not read by any bank service; a typo?)',
    ]);
  });

  it('rejects ports out of range', () => {
    expect(problems({ ...good, LEDGER_GRPC_PORT: '70000' })).toEqual(['LEDGER_GRPC_PORT: must be between 0 and 65535 (got "70000")']);
  });
});
