import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** The brief's bound: a misconfigured service is gone, having said why, within two seconds. */
const EXIT_WITHIN_MS = 2_000;
/** Configuration is checked before any certificate is read, so the folder need not exist. */
const TLS_DIR = '/nonexistent/bank-tls';

function run(app: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; elapsedMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'apps', app, 'dist', 'main.js')], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), EXIT_WITHIN_MS * 3);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, elapsedMs: Date.now() - started });
    });
  });
}

const SERVICES = [
  ['auth-service', 'AUTH_DATABASE_URL'],
  ['user-service', 'USER_DATABASE_URL'],
  ['transaction-service', 'LEDGER_DATABASE_URL'],
  ['payment-service', 'PAYMENT_DATABASE_URL'],
  ['notification-service', 'NOTIFICATION_DATABASE_URL'],
] as const;

describe('a service with bad configuration exits at once, naming each bad variable', () => {
  it.each(SERVICES)('%s without its database URL', async (app, dbVar) => {
    const r = await run(app, { BANK_TLS_DIR: TLS_DIR });
    expect(r.code).toBe(78);
    expect(r.elapsedMs).toBeLessThan(EXIT_WITHIN_MS);
    expect(r.stderr).toContain(`${dbVar}: is required`);
  });

  it.each(SERVICES)('%s with an unknown (misspelt) variable and no identity folder', async (app, dbVar) => {
    const r = await run(app, { [dbVar]: 'postgres://postgres:hunter2@127.0.0.1:5432/x', LEDGER_DATABSE_URL: 'oops' });
    expect(r.code).toBe(78);
    expect(r.elapsedMs).toBeLessThan(EXIT_WITHIN_MS);
    expect(r.stderr).toContain('LEDGER_DATABSE_URL: unknown variable');
    expect(r.stderr).toContain('BANK_TLS_DIR: is required');
    expect(r.stderr).not.toContain('hunter2');
  });

  it('auth-service with a malformed signing key, without echoing it', async () => {
    const r = await run('auth-service', {
      AUTH_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x',
      BANK_TLS_DIR: TLS_DIR,
      JWT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nc2VjcmV0LWJ1dC1icm9rZW4=\\n-----END PRIVATE KEY-----',
    });
    expect(r.code).toBe(78);
    expect(r.elapsedMs).toBeLessThan(EXIT_WITHIN_MS);
    expect(r.stderr).toContain('JWT_PRIVATE_KEY: must be a valid PEM key');
    expect(r.stderr).not.toContain('c2VjcmV0');
  });

  it('a malformed database URL is named without echoing its password', async () => {
    const r = await run('transaction-service', { LEDGER_DATABASE_URL: 'mysql://user:hunter2@127.0.0.1/x', BANK_TLS_DIR: TLS_DIR });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('LEDGER_DATABASE_URL: must use postgres or postgresql');
    expect(r.stderr).not.toContain('hunter2');
  });
});
