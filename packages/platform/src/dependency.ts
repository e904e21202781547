import type { Logger } from './logger';

/**
 * What a process knows of one dependency (PostgreSQL, Redis) it keeps retrying: an outage is
 * logged once when it starts and once when it ends, however many attempts fail in between, and
 * the failed attempts are counted (`retries`, for the metrics of the observability issue). The
 * components that retry (relay, consumer, queues) share one per dependency and process.
 */
export class DependencyHealth {
  private downSinceMs: number | undefined;
  private retriesTotal = 0;
  private outageRetries = 0;

  constructor(
    readonly name: string,
    private readonly logger: Logger,
  ) {}

  get up(): boolean {
    return this.downSinceMs === undefined;
  }

  /** Failed attempts since the process started. */
  get retries(): number {
    return this.retriesTotal;
  }

  /** Every failed attempt: counted; only the first of an outage is logged, without a stack. */
  failed(error: unknown, component: string): void {
    this.retriesTotal += 1;
    this.outageRetries += 1;
    if (this.downSinceMs !== undefined) return;
    this.downSinceMs = Date.now();
    this.logger.warn({ dependency: this.name, component, error: describe(error) }, `${this.name} unavailable; retrying with back-off`);
  }

  /** A success: ends an outage, if there was one, with one line. */
  recovered(component: string): void {
    if (this.downSinceMs === undefined) return;
    this.logger.info({ dependency: this.name, component, downMs: Date.now() - this.downSinceMs, retries: this.outageRetries }, `${this.name} available again`);
    this.downSinceMs = undefined;
    this.outageRetries = 0;
  }
}

/** The two dependencies a service's event path retries: one health each, per process. */
export interface DependencyHealths {
  readonly database: DependencyHealth;
  readonly redis: DependencyHealth;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
}

/** Exponential back-off with jitter (half to all of the step), capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const step = Math.min(baseMs * 2 ** Math.min(attempt, 30), maxMs);
  return Math.round(step * (0.5 + Math.random() / 2));
}
