import type { Redis } from 'ioredis';
import { checkHealth, type WorkloadIdentity } from '@bank/platform';

/** One dependency that does not answer within this counts as down. */
export const READINESS_CHECK_TIMEOUT_MS = 1_000;
/**
 * /readyz answers from a result this fresh instead of probing again: every probe opens a gRPC
 * channel to each peer, and a burst of probes (or a scanner) must not turn into a burst of
 * connections inside the bank.
 */
export const READINESS_CACHE_MS = 1_000;

export type CheckStatus = 'up' | 'down';

export interface Readiness {
  /** Every gRPC peer serves. Redis is reported but not required: without it limits are counted locally. */
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckStatus>>;
  /** Where the rate limits count: across replicas in Redis, or in this process only (degraded). */
  readonly rateLimits: 'shared' | 'local';
}

export interface ReadinessOptions {
  /** gRPC peers by name, as host:port; each must report SERVING on grpc.health.v1. */
  readonly peers: Readonly<Record<string, string>>;
  readonly identity: WorkloadIdentity;
  readonly redis: Redis;
  readonly rateLimitsShared: () => boolean;
  readonly timeoutMs?: number;
  readonly cacheMs?: number;
}

async function pingRedis(redis: Redis, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([redis.ping().then((reply) => reply === 'PONG'), timedOut]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Checks every dependency at once; concurrent callers share one check. */
export function createReadinessCheck(opts: ReadinessOptions): () => Promise<Readiness> {
  const timeoutMs = opts.timeoutMs ?? READINESS_CHECK_TIMEOUT_MS;
  const cacheMs = opts.cacheMs ?? READINESS_CACHE_MS;
  let inFlight: Promise<Readiness> | undefined;
  let latest: { readiness: Readiness; checkedAtMs: number } | undefined;

  async function check(): Promise<Readiness> {
    const peers = Object.entries(opts.peers);
    const [redisUp, ...peersUp] = await Promise.all([pingRedis(opts.redis, timeoutMs), ...peers.map(([, address]) => checkHealth(address, opts.identity, timeoutMs))]);
    const status = (up: boolean | undefined): CheckStatus => (up === true ? 'up' : 'down');
    const checks: Record<string, CheckStatus> = Object.fromEntries(peers.map(([name], i) => [name, status(peersUp[i])]));
    const ready = Object.values(checks).every((s) => s === 'up');
    checks.redis = status(redisUp);
    return { ready, checks, rateLimits: opts.rateLimitsShared() ? 'shared' : 'local' };
  }

  return () => {
    if (latest !== undefined && Date.now() - latest.checkedAtMs < cacheMs) return Promise.resolve(latest.readiness);
    inFlight ??= check()
      .then((readiness) => {
        latest = { readiness, checkedAtMs: Date.now() };
        return readiness;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}
