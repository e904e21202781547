import { setTimeout as sleep } from 'node:timers/promises';
import type { Database, Logger, Running } from '@bank/platform';

/**
 * The ledger has one writer. Each transaction-service process takes the writer's lease (the one
 * row of ledger_lease) before it serves: the active one renews it, standbys wait for it to lapse.
 * Taking it raises the fencing token, and every ledger write carries the token its process holds
 * (ledger_fence, under a share lock of the row), so writes of a former holder still in flight
 * finish before a takeover commits and every later one is refused: two writers never interleave.
 * Times are the database's (now()), so the processes' clocks do not matter.
 */

/** A lease lapses this long after its last renewal: a dead writer is replaced within it. */
export const LEASE_TTL_MS = 3_000;
/** The active process renews this often (three chances before the lease lapses). */
export const LEASE_RENEW_MS = 1_000;
/** A standby looks this often whether the lease has lapsed. */
export const LEASE_POLL_MS = 500;
/** Tokens start at 0 and only grow: a write carrying this one is always refused. */
const NOT_HELD = -1n;
/** A takeover waits this long for writes in flight to finish, then tries again at the next poll. */
const TAKEOVER_LOCK_TIMEOUT_MS = 1_000;

export class WriterLease {
  private token: bigint | undefined;
  private renewing: ReturnType<typeof setInterval> | undefined;
  /** A renewal still waiting for its answer: the next tick skips rather than piles up connections. */
  private renewal: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Database,
    /** This process, as the lease row names its holder. */
    private readonly holder: string,
    private readonly logger: Logger,
    /** Told once when another process has taken the lease: this one must not write again. */
    private readonly onLost: () => void,
  ) {}

  /** The fencing token this process holds, if it is the writer. */
  current(): bigint | undefined {
    return this.token;
  }

  /**
   * The token every write is fenced with: the held one, else one no lease ever has, so that a
   * write after the lease was lost or given up is refused rather than written unfenced.
   */
  fenceToken(): bigint {
    return this.token ?? NOT_HELD;
  }

  isActive(): boolean {
    return this.token !== undefined;
  }

  /** Resolves once this process holds the lease; a standby waits here for the writer's to lapse. */
  async acquire(): Promise<void> {
    let waiting = false;
    while (!this.stopped) {
      try {
        const token = await this.tryTakeOver();
        if (token !== undefined) {
          this.token = token;
          this.logger.info({ leaseToken: token.toString(), holder: this.holder }, 'writer lease taken: this transaction-service is the ledger writer');
          this.renewing = setInterval(() => {
            this.renewal ??= this.renew().finally(() => (this.renewal = undefined));
          }, LEASE_RENEW_MS);
          return;
        }
        if (!waiting) this.logger.info('standby: another transaction-service holds the writer lease');
        waiting = true;
      } catch (err) {
        // The database is away or a takeover waited too long for writes in flight: try again.
        this.logger.debug({ err }, 'could not take the writer lease yet');
      }
      await sleep(LEASE_POLL_MS);
    }
  }

  private async tryTakeOver(): Promise<bigint | undefined> {
    return this.db.transaction(async (c) => {
      await c.query(`SET LOCAL lock_timeout = '${TAKEOVER_LOCK_TIMEOUT_MS}ms'`);
      // FOR UPDATE waits for the holder's writes in flight (their fence's FOR KEY SHARE); the
      // UPDATE alone, of non-key columns, would not.
      const { rows: lapsed } = await c.query('SELECT 1 FROM ledger_lease WHERE id = 1 AND expires_at < now() FOR UPDATE');
      if (lapsed.length === 0) return undefined;
      const { rows } = await c.query<{ token: string }>(
        `UPDATE ledger_lease SET holder = $1, token = token + 1, expires_at = now() + make_interval(secs => $2::double precision / 1000)
          WHERE id = 1 AND expires_at < now() RETURNING token::text AS token`,
        [this.holder, LEASE_TTL_MS],
      );
      return rows[0] ? BigInt(rows[0].token) : undefined;
    });
  }

  private async renew(): Promise<void> {
    const token = this.token;
    if (token === undefined || this.stopped) return;
    try {
      const { rowCount } = await this.db.sql.query(
        'UPDATE ledger_lease SET expires_at = now() + make_interval(secs => $3::double precision / 1000) WHERE id = 1 AND holder = $1 AND token = $2',
        [this.holder, token.toString(), LEASE_TTL_MS],
      );
      if (rowCount === 0 && this.token === token) {
        this.token = undefined;
        clearInterval(this.renewing);
        this.logger.error({ leaseToken: token.toString() }, 'writer lease lost: another transaction-service took it; this one writes no more');
        this.onLost();
      }
    } catch (err) {
      // Unreachable database: nobody can take the lease meanwhile, and writes fail anyway. If it
      // lapses and another process takes it, the next renewal finds that out.
      this.logger.debug({ err }, 'could not renew the writer lease');
    }
  }

  /** Gives the lease up (a graceful stop): a standby takes over at its next poll, not after the TTL. */
  async release(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewing);
    const token = this.token;
    this.token = undefined;
    if (token === undefined) return;
    await this.db.sql.query("UPDATE ledger_lease SET expires_at = 'epoch' WHERE id = 1 AND holder = $1 AND token = $2", [this.holder, token.toString()]).catch((err: unknown) => this.logger.warn({ err }, 'could not release the writer lease; it lapses by itself'));
  }

  /** As background work of the runtime: stopping stops `writers` (the sweeper) first, then releases the lease. */
  running(writers: Running): Running {
    return {
      stop: async () => {
        await writers.stop();
        await this.release();
      },
    };
  }
}
