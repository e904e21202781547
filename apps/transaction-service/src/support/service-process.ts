import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { checkHealth, loadIdentity } from '@bank/platform';

export const SERVICE_STARTUP_TIMEOUT_MS = 30_000;

/** Starts the built transaction-service (dist/main.js) as a real process and waits for health. */
export async function startLedgerProcess(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const main = path.resolve(__dirname, '..', '..', 'dist', 'main.js');
  // Metrics on a free port: the default one may be another test's, or a running stack's.
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', LEDGER_METRICS_PORT: '0', ...env, LEDGER_GRPC_PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const until = Date.now() + SERVICE_STARTUP_TIMEOUT_MS;
  // The probe presents the operator tool's identity from the same folder the service reads its own from.
  const identity = loadIdentity(env.BANK_TLS_DIR ?? '', 'bank-cli');
  while (!(await checkHealth(`127.0.0.1:${port}`, identity, 500))) {
    if (child.exitCode !== null) throw new Error(`transaction-service exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > until) throw new Error('transaction-service did not become healthy');
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}
