import type { EntityManager, EntitySchema, MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Client, type PoolClient } from 'pg';
import { backoffMs } from './dependency';
import type { Logger } from './logger';

/** Connections per service process; the ledger batches, so a few connections carry its load. */
export const DEFAULT_POOL_MAX = 10;
/** Serialization failures and deadlocks are retried this many times before the error surfaces. */
export const MAX_TRANSACTION_RETRIES = 5;
const RETRY_BASE_DELAY_MS = 5;
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
export const STATEMENT_TIMEOUT_MS = 30_000;
/** Opening a connection to a server that does not answer gives up after this. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** A caller waits at most this long for a pooled connection (knex's default is 60 s), then fails fast. */
export const POOL_ACQUIRE_TIMEOUT_MS = 5_000;
/** Idle time after which TCP keepalive probes a pooled connection's peer. */
export const TCP_KEEPALIVE_DELAY_MS = 10_000;

/** The raw pg client of a MikroORM connection: `query(text, values)` with $n parameters. */
export type SqlClient = Pick<PoolClient, 'query'>;

export interface DatabaseOptions {
  clientUrl: string;
  migrations: readonly MigrationObject[];
  entities?: readonly EntitySchema[];
  poolMax?: number;
  logger: Logger;
}

/**
 * SQLSTATEs of a database that is away, going away or refusing connections: connection exceptions
 * (class 08), shutdown and start-up (57P01-57P03), too many connections, and a statement cancelled
 * by statement_timeout (a database too slow to answer is, to the caller, unavailable).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);
/** Socket errors of a peer that cannot be reached or went away mid-conversation. */
const UNAVAILABLE_SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Errors pg and knex raise without a code: a dropped connection, a connect or pool wait that timed out. */
const UNAVAILABLE_MESSAGES = [/^Connection terminated/, /connection timeout/i, /not currently accepting connections/, /^Knex: Timeout acquiring a connection/];

/**
 * Whether an error says that the database could not be reached or answered too slowly, as
 * opposed to a bad statement or a bug: the former is the caller's UNAVAILABLE (retry later),
 * the latter an internal error.
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = String((e as { code?: unknown }).code ?? '');
  if (UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08') || UNAVAILABLE_SOCKET_ERRORS.has(code)) return true;
  const message = (e as { message?: unknown }).message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message));
}

export function isRetryableSqlError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && RETRYABLE_SQLSTATES.has(String((e as { code?: unknown }).code));
}

/**
 * A service's database: MikroORM owns the pool, the migrations and the entity repositories. Hot
 * paths (ledger batches, outbox relay) borrow the pool's raw pg client through `transaction`, so
 * that array parameters and multi-row statements go to Postgres as they are written.
 */
export class Database {
  private constructor(
    readonly orm: MikroORM,
    private readonly logger: Logger,
  ) {}

  static async open(opts: DatabaseOptions): Promise<Database> {
    const toDebugLog = (message: unknown) => opts.logger.debug({ knex: true }, String(message));
    const orm = await MikroORM.init({
      driver: PostgreSqlDriver,
      clientUrl: opts.clientUrl,
      entities: opts.entities ? [...opts.entities] : [],
      discovery: { warnWhenNoEntities: false },
      extensions: [Migrator],
      migrations: { migrationsList: [...opts.migrations], transactional: true, allOrNothing: true, tableName: 'schema_migrations' },
      pool: { min: 0, max: opts.poolMax ?? DEFAULT_POOL_MAX, acquireTimeoutMillis: POOL_ACQUIRE_TIMEOUT_MS, createTimeoutMillis: CONNECT_TIMEOUT_MS },
      driverOptions: {
        // knex takes the smaller of this and the pool's: a caller waits this long for a connection, then fails.
        acquireConnectionTimeout: POOL_ACQUIRE_TIMEOUT_MS,
        // knex prints connection errors with console.log; during an outage that is a line per failed
        // connection. They go to the debug log: the outage itself is reported once (DependencyHealth).
        log: { warn: toDebugLog, error: toDebugLog, deprecate: toDebugLog, debug: toDebugLog },
        connection: {
          statement_timeout: STATEMENT_TIMEOUT_MS,
          // A server that does not answer fails the connect instead of waiting for TCP to give up.
          connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
          // A peer that vanished (half-open socket) is noticed on idle pooled connections.
          keepAlive: true,
          keepAliveInitialDelayMillis: TCP_KEEPALIVE_DELAY_MS,
        },
      },
      allowGlobalContext: false,
      debug: false,
      logger: (message: string) => opts.logger.debug({ orm: true }, message),
    });
    return new Database(orm, opts.logger);
  }

  /** Applies pending migrations; returns the names applied. */
  async migrate(): Promise<string[]> {
    const applied = await this.orm.getMigrator().up();
    if (applied.length > 0) this.logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    return applied.map((m) => m.name);
  }

  /** Borrows a raw client from MikroORM's pool for the duration of `fn`. */
  async withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const { client, release } = await this.acquire();
    try {
      return await fn(client);
    } finally {
      await release();
    }
  }

  /** Borrows a raw client until `release` is called: for work whose end is not one callback's. */
  async acquire(): Promise<{ client: PoolClient; release: () => Promise<void> }> {
    const knex = this.orm.em.getConnection().getKnex();
    const client = (await knex.client.acquireConnection()) as PoolClient;
    return { client, release: async () => void (await knex.client.releaseConnection(client)) };
  }

  /**
   * Runs `fn` in one transaction; serialization failures and deadlocks are retried a bounded
   * number of times, with a short jittered back-off, since the whole transaction can be replayed.
   */
  async transaction<T>(fn: (client: SqlClient) => Promise<T>, isolation: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE' = 'READ COMMITTED'): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.withClient(async (client) => {
          await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
          try {
            const result = await fn(client);
            await client.query('COMMIT');
            return result;
          } catch (e) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw e;
          }
        });
      } catch (e) {
        if (!isRetryableSqlError(e) || attempt >= MAX_TRANSACTION_RETRIES) throw e;
        await new Promise((r) => setTimeout(r, RETRY_BASE_DELAY_MS * 2 ** attempt * (0.5 + Math.random())));
      }
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.withClient((c) => c.query('SELECT 1'));
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.orm.close(true);
  }
}

/**
 * The raw pg client of the transaction an EntityManager is in (inside `em.transactional`): for
 * the statements MikroORM has no words for (the outbox's multi-row insert, pg_notify, a
 * conditional increment), run in the same transaction as the entities. knex's transaction
 * client hands out the transaction's own connection from acquireConnection.
 */
export async function transactionClient(em: EntityManager): Promise<SqlClient> {
  const trx = em.getTransactionContext<{ client?: { acquireConnection(): Promise<PoolClient> } }>();
  if (!trx?.client) throw new Error('transactionClient needs an EntityManager inside a transaction');
  return trx.client.acquireConnection();
}

/** The cursor of a list ordered newest first by (created_at, id): the last row's time in milliseconds and id. */
export function timeIdCursor(createdAt: Date, id: string): string {
  return `${createdAt.getTime()}_${id}`;
}

/** A cursor timeIdCursor made; undefined for anything else. */
export function parseTimeIdCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const match = /^(\d{1,15})_([0-9a-f-]{36})$/.exec(cursor);
  return match ? { createdAt: new Date(Number(match[1])), id: match[2] as string } : undefined;
}

/** Reconnect back-off of a LISTEN connection: grows per attempt up to the ceiling, and never stops. */
const LISTEN_RETRY_BASE_MS = 200;
const LISTEN_RETRY_MAX_MS = 5_000;

/**
 * LISTENs on `channel` with a connection of its own (a pooled one would be reused by others) and
 * hands each payload to `onNotify`; it reconnects after losing its connection, and calls
 * `onReconnect` then, because notifications sent meanwhile were lost. Answers the function that
 * stops it.
 */
export function listen(url: string, channel: string, onNotify: (payload: string) => void, logger: Logger, onReconnect: () => void = () => undefined): () => Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let client: Client | undefined;
  let stopped = false;
  let attempt = 0;
  let connectedBefore = false;
  const connect = async (): Promise<void> => {
    while (!stopped) {
      const c = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, keepAliveInitialDelayMillis: TCP_KEEPALIVE_DELAY_MS });
      c.on('notification', (n) => {
        if (n.channel === channel && n.payload !== undefined) onNotify(n.payload);
      });
      c.on('error', (err) => logger.debug({ err, channel }, 'listen connection error'));
      try {
        await c.connect();
        await c.query(`LISTEN ${channel}`);
        if (stopped) {
          await c.end().catch(() => undefined);
          return;
        }
        client = c;
        if (connectedBefore) onReconnect();
        connectedBefore = true;
        attempt = 0;
        c.once('end', () => {
          client = undefined;
          if (!stopped) void connect();
        });
        return;
      } catch (err) {
        await c.end().catch(() => undefined);
        logger.debug({ err, channel }, 'listen connection failed; retrying');
        await new Promise((r) => setTimeout(r, backoffMs(attempt++, LISTEN_RETRY_BASE_MS, LISTEN_RETRY_MAX_MS)));
      }
    }
  };
  void connect();
  return async () => {
    stopped = true;
    await client?.end().catch(() => undefined);
  };
}

/** Runs `fn` on the server's maintenance database, with the (checked) name of the database in `url`. */
async function withAdminClient<T>(url: string, fn: (admin: Client, name: string) => Promise<T>): Promise<T> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`refusing to manage a database named ${JSON.stringify(name)}`);
  target.pathname = '/postgres';
  const client = new Client({ connectionString: target.toString() });
  await client.connect();
  try {
    return await fn(client, name);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` when it does not exist (local stack and tests). */
export async function ensureDatabase(url: string): Promise<void> {
  await withAdminClient(url, async (client, name) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount !== 0) return;
    await client.query(`CREATE DATABASE "${name}"`).catch((e: { code?: string }) => {
      // Two processes may race to create it; the loser finds it there.
      if (e.code !== '42P04' && e.code !== '23505') throw e;
    });
  });
}

export async function dropDatabase(url: string): Promise<void> {
  await withAdminClient(url, (client, name) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
