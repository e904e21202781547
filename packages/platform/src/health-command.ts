import { checkHealth } from './grpc';
import { loadIdentity } from './identity';
import type { Workload } from '@bank/contracts';

/** `node main.js health`: a container's health probe. */
export const HEALTH_ARGUMENT = 'health';
/** A probe that gets no answer within this long counts as unhealthy. */
export const HEALTH_COMMAND_TIMEOUT_MS = 3_000;

export function isHealthCommand(argv: readonly string[] = process.argv): boolean {
  return argv[2] === HEALTH_ARGUMENT;
}

/**
 * Asks the service in this container whether it serves (grpc.health.v1 over mutual TLS, with the
 * service's own certificate) and exits 0 if it does, 1 otherwise: Docker's HEALTHCHECK and a
 * Kubernetes exec probe, which cannot speak mutual TLS themselves.
 */
export async function runHealthCommand(name: Workload, port: number, env: NodeJS.ProcessEnv = process.env): Promise<never> {
  let ok = false;
  try {
    const identity = loadIdentity(env.BANK_TLS_DIR ?? '', name);
    ok = await checkHealth(`127.0.0.1:${port}`, identity, HEALTH_COMMAND_TIMEOUT_MS);
  } catch (e) {
    process.stderr.write(`${name}: health check failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  process.stdout.write(`${name}: ${ok ? 'serving' : 'not serving'}\n`);
  process.exit(ok ? 0 : 1);
}
