import { checkHealth, type WorkloadIdentity } from '@bank/platform';
import { delay } from './errors';
import type { Progress } from './terminal';

/** One probe of one component; a probe that hangs counts as "not yet". */
export const PROBE_TIMEOUT_MS = 1_000;
/** Pause between rounds of probes. */
export const PROBE_INTERVAL_MS = 250;

export interface ReadinessCheck {
  readonly name: string;
  probe(): Promise<boolean>;
}

/** grpc.health.v1 of a service answers SERVING (the overall status, service ""). */
export function grpcHealthCheck(name: string, address: string, identity: WorkloadIdentity): ReadinessCheck {
  return { name, probe: () => checkHealth(address, identity, PROBE_TIMEOUT_MS) };
}

/** An HTTP endpoint answers 200, as the gateway's /readyz does once every peer answers. */
export function httpReadyCheck(name: string, url: string): ReadinessCheck {
  return {
    name,
    probe: async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: 'manual' });
        // The body is read so the connection can be reused instead of lingering.
        await res.arrayBuffer();
        return res.status === 200;
      } catch {
        return false;
      }
    },
  };
}

export type ReadinessOutcome = { kind: 'ready' } | { kind: 'timed-out'; waitingFor: string[] } | { kind: 'aborted' };

/**
 * Probes every component until all have answered once, `timeoutMs` has passed, or `signal`
 * aborts (Ctrl-C, or a process died). A component that answered is not asked again: readiness
 * here means "has come up", and a later failure shows up as a process exit instead.
 */
export async function waitUntilReady(checks: readonly ReadinessCheck[], opts: { timeoutMs: number; signal: AbortSignal; progress: Progress }): Promise<ReadinessOutcome> {
  const until = Date.now() + opts.timeoutMs;
  const pending = new Set(checks);
  const waitingFor = () => checks.filter((c) => pending.has(c)).map((c) => c.name);
  opts.progress.update(0, waitingFor());
  while (pending.size > 0) {
    if (opts.signal.aborted) return { kind: 'aborted' };
    if (Date.now() >= until) return { kind: 'timed-out', waitingFor: waitingFor() };
    await Promise.all(
      [...pending].map(async (check) => {
        if (await check.probe()) pending.delete(check);
      }),
    );
    opts.progress.update(checks.length - pending.size, waitingFor());
    if (pending.size > 0) await delay(PROBE_INTERVAL_MS);
  }
  return opts.signal.aborted ? { kind: 'aborted' } : { kind: 'ready' };
}
