import { IsolationLevel, type EntitySchema, type MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM, PostgreSqlDriver, type EntityManager, type Knex } from '@mikro-orm/postgresql';
import { Client, type QueryResult, type QueryResultRow } from 'pg';
import { InvariantViolation, isUuid } from '@bank/kernel';
import { backoffMs } from './dependency';
import type { Logger } from './logger';

/** Connections per service process; the ledger batches, so a few connections carry its load. */
export const DEFAULT_POOL_MAX = 10;
/** Serialization failures and deadlocks are retried this many times before the error surfaces. */
export const MAX_TRANSACTION_RETRIES = 5;
const RETRY_BASE_DELAY_MS = 5;
/** The longest wait before replaying a transaction: a conflict that outlasts it is a hot spot, not bad luck. */
const RETRY_MAX_DELAY_MS = 100;
/** One lock id for "migrating this database": replicas starting together migrate one at a time. */
const MIGRATION_LOCK_ID = 7_246_001;
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
export const STATEMENT_TIMEOUT_MS = 30_000;
/** Opening a connection to a server that does not answer gives up after this. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** A caller waits at most this long for a pooled connection (knex's default is 60 s), then fails fast. */
export const POOL_ACQUIRE_TIMEOUT_MS = 5_000;
/** Idle time after which TCP keepalive probes a pooled connection's peer. */
export const TCP_KEEPALIVE_DELAY_MS = 10_000;

/** A statement for the pg driver: `$n` parameters, and a name when pg should prepare it once per connection. */
export interface SqlStatement {
  text: string;
  values?: readonly unknown[];
  name?: string;
}

/** Raw SQL on a MikroORM connection: `query(text, values)` with `$n` parameters, as pg takes it. */
export interface SqlClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own default row type
  query<R extends QueryResultRow = any>(statement: string | SqlStatement, values?: readonly unknown[]): Promise<QueryResult<R>>;
}

/**
 * Raw SQL in the unit of work of `em`: inside `em.transactional` on the transaction's connection,
 * otherwise on a pooled connection per statement (autocommit). The statement goes through knex's
 * public raw() with pg's own query options, because MikroORM's execute() inlines the values into
 * the text and knex's bindings rewrite `?`: typed array parameters, named prepared statements and
 * multi-thousand-value batches reach Postgres as written.
 */
export function sqlClient(em: EntityManager): SqlClient {
  return {
    query: async (statement, values) => {
      const { text, values: bound = values ?? [], name } = typeof statement === 'string' ? { text: statement, values } : statement;
      const runner: Knex = em.getTransactionContext<Knex.Transaction>() ?? em.getKnex();
      return runner.raw(text).options(name ? { values: bound, name } : { values: bound });
    },
  };
}

const ISOLATION_LEVELS = {
  'READ COMMITTED': IsolationLevel.READ_COMMITTED,
  'REPEATABLE READ': IsolationLevel.REPEATABLE_READ,
  SERIALIZABLE: IsolationLevel.SERIALIZABLE,
} as const;
export type Isolation = keyof typeof ISOLATION_LEVELS;

/**
 * What a store needs of its database: statements, an EntityManager, transactions. A Database is
 * one; so is the scope `Database.transaction` hands its callback, in which every call joins that
 * transaction (a nested `transaction` is a savepoint of it). A store constructed on a scope makes
 * its changes part of the caller's unit of work: how a consumer's use case commits its effect
 * with the event's inbox row without knowing about transactions.
 *
 * The scope is passed, not found in an AsyncLocalStorage: on Node 20 an AsyncLocalStorage, once
 * entered, makes every promise in the process pay for async hooks, which cost the ledger a fifth
 * of its single-transfer throughput (npm run bench:ledger).
 */
export interface Persistence {
  /** Statements: in a transaction's scope on its connection, else each on a pooled connection. */
  readonly sql: SqlClient;
  /** In a transaction's scope its EntityManager, else a fresh one (a unit of work of its own). */
  em(): EntityManager;
  transaction<T>(fn: (client: SqlClient, em: EntityManager, scope: Persistence) => Promise<T>, isolation?: Isolation): Promise<T>;
}

/** Runs `fn` in a transaction that `em` begins (with `parent`, a savepoint of it), committing or rolling back. */
async function inTransaction<T>(em: EntityManager, isolation: Isolation, fn: (client: SqlClient, em: EntityManager, scope: Persistence) => Promise<T>, parent?: unknown): Promise<T> {
  await em.begin(parent ? { ctx: parent as never } : { isolationLevel: ISOLATION_LEVELS[isolation] });
  try {
    const client = sqlClient(em);
    const result = await fn(client, em, transactionScope(client, em, isolation));
    const work = em.getUnitOfWork();
    if (work.getPersistStack().size > 0 || work.getIdentityMap().keys().length > 0) {
      await em.commit();
    } else {
      // Only raw statements ran: commit without em.commit's flush, which runs in an
      // AsyncLocalStorage and so would switch on Node 20's per-promise async hooks (see
      // Persistence) in a process, like the ledger's, that never needs an entity.
      await em.getTransactionContext<Knex.Transaction>()?.commit();
    }
    return result;
  } catch (e) {
    await em.rollback().catch(() => undefined);
    throw e;
  }
}

/** The Persistence of an open transaction: what a store built on it does joins the transaction. */
function transactionScope(client: SqlClient, em: EntityManager, isolation: Isolation): Persistence {
  return {
    sql: client,
    em: () => em,
    transaction: (fn, requested = isolation) => {
      if (requested !== isolation) throw new InvariantViolation(`a ${requested} transaction cannot join the ${isolation} one already open`);
      // A savepoint: a joined call that fails (and is caught, like a duplicate key) rolls back its
      // own statements only, instead of aborting the caller's whole transaction.
      return inTransaction(em.fork(), isolation, fn, em.getTransactionContext());
    },
  };
}

export interface DatabaseOptions {
  clientUrl: string;
  migrations: readonly MigrationObject[];
  entities?: readonly EntitySchema[];
  poolMax?: number;
  logger: Logger;
  /**
   * PostgreSQL ends a session whose transaction sits idle this long, releasing its locks (the
   * ledger's: a paused writer must not hold the lease's share lock for ever). Unset: no limit.
   */
  idleInTransactionTimeoutMs?: number;
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
// Unanchored: knex puts the statement in front of a driver's message ("<sql> - Connection terminated ...").
const UNAVAILABLE_MESSAGES = [/Connection terminated/, /connection timeout/i, /not currently accepting connections/, /Knex: Timeout acquiring a connection/];

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
 * A service's database: MikroORM owns the pool, the migrations and the units of work. Stores use
 * EntitySchemas through an EntityManager where a unit of work fits, and raw SQL (`sql`, or the
 * client `transaction` hands out) where statements must go to Postgres as they are written:
 * array parameters and multi-row statements on the ledger's and the relay's hot paths.
 */
export class Database implements Persistence {
  /** Statements outside any transaction, each on a pooled connection. */
  readonly sql: SqlClient;
  /** Transactions replayed after a serialization failure or deadlock, since the process started. */
  transactionRetries = 0;

  private constructor(
    readonly orm: MikroORM,
    private readonly logger: Logger,
  ) {
    this.sql = sqlClient(orm.em.fork());
  }

  static async open(opts: DatabaseOptions): Promise<Database> {
    const toDebugLog = (message: unknown) => opts.logger.debug({ knex: true }, String(message));
    const orm = await MikroORM.init({
      driver: PostgreSqlDriver,
      clientUrl: opts.clientUrl,
      entities: opts.entities ? [...opts.entities] : [],
      discovery: { warnWhenNoEntities: false },
      extensions: [Migrator],
      migrations: { migrationsList: [...opts.migrations], transactional: true, allOrNothing: true, tableName: 'schema_migrations' },
      // knex waits for a pooled connection the smaller of its own 60 s and this pool's acquire timeout.
      pool: { min: 0, max: opts.poolMax ?? DEFAULT_POOL_MAX, acquireTimeoutMillis: POOL_ACQUIRE_TIMEOUT_MS, createTimeoutMillis: CONNECT_TIMEOUT_MS },
      driverOptions: {
        // knex prints connection errors with console.log; during an outage that is a line per failed
        // connection. They go to the debug log: the outage itself is reported once (DependencyHealth).
        log: { warn: toDebugLog, error: toDebugLog, deprecate: toDebugLog, debug: toDebugLog },
        connection: {
          statement_timeout: STATEMENT_TIMEOUT_MS,
          ...(opts.idleInTransactionTimeoutMs !== undefined ? { idle_in_transaction_session_timeout: opts.idleInTransactionTimeoutMs } : {}),
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

  /** A fresh unit of work: an EntityManager of its own, for one request or job. */
  em(): EntityManager {
    return this.orm.em.fork();
  }

  /**
   * Applies pending migrations; returns the names applied. Processes of one service starting
   * together take turns: the first applies, the others find nothing left to do. The lock is a
   * transaction's, so a process that dies holding it cannot leave it held.
   */
  async migrate(): Promise<string[]> {
    const applied = await this.transaction(async (c, em) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
      return this.orm.getMigrator().up({ transaction: em.getTransactionContext() });
    });
    if (applied.length > 0) this.logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    return applied.map((m) => m.name);
  }

  /** Reverts the last `steps` applied migrations, newest first; returns the names reverted. */
  async migrateDown(steps: number): Promise<string[]> {
    if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, not ${steps}`);
    const reverted = await this.transaction(async (c, em) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
      const migrator = this.orm.getMigrator();
      const newestFirst = (await migrator.getExecutedMigrations()).map((m) => m.name).reverse();
      if (newestFirst.length === 0) return [];
      return migrator.down({ migrations: newestFirst.slice(0, steps), transaction: em.getTransactionContext() });
    });
    if (reverted.length > 0) this.logger.info({ migrations: reverted.map((m) => m.name) }, 'migrations reverted');
    return reverted.map((m) => m.name);
  }

  /** The migrations applied so far, oldest first, and those still pending. */
  async migrations(): Promise<{ applied: string[]; pending: string[] }> {
    const migrator = this.orm.getMigrator();
    // One after the other: on a database never migrated, both would create the bookkeeping table at once.
    const applied = await migrator.getExecutedMigrations();
    const pending = await migrator.getPendingMigrations();
    return { applied: applied.map((m) => m.name), pending: pending.map((m) => m.name) };
  }

  /**
   * Runs `fn` in one transaction, a unit of work whose entities (`em`) and raw statements
   * (`client`) commit or roll back together; `scope` is the Persistence to build stores on so
   * that they join it. Serialization failures and deadlocks are retried a bounded number of
   * times, with a short jittered back-off, since the whole transaction can be replayed.
   */
  async transaction<T>(fn: (client: SqlClient, em: EntityManager, scope: Persistence) => Promise<T>, isolation: Isolation = 'READ COMMITTED'): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        // em.begin/commit rather than em.transactional, which enters an AsyncLocalStorage (see Persistence).
        return await inTransaction(this.orm.em.fork(), isolation, fn);
      } catch (e) {
        if (!isRetryableSqlError(e) || attempt >= MAX_TRANSACTION_RETRIES) throw e;
        this.transactionRetries += 1;
        await new Promise((r) => setTimeout(r, backoffMs(attempt, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS)));
      }
    }
  }

  /** The pool's connections now: in use, idle, and callers waiting for one. */
  poolStats(): { used: number; free: number; waiting: number } {
    // knex's pool is tarn's; MikroORM does not wrap these counters.
    const pool = (this.orm.em.getKnex().client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
    return pool ? { used: pool.numUsed(), free: pool.numFree(), waiting: pool.numPendingAcquires() } : { used: 0, free: 0, waiting: 0 };
  }

  async ping(): Promise<boolean> {
    try {
      await this.sql.query('SELECT 1');
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
 * A timestamptz column as a raw statement returns it: MikroORM sets pg to hand timestamps over
 * as strings (so it can hydrate them itself), an ORM read gives a Date; either comes out a Date.
 */
export function sqlTimestamp(v: unknown): Date {
  return v instanceof Date ? v : new Date(v as string);
}

/** The cursor of a list ordered newest first by (created_at, id): the last row's time in milliseconds and id. */
export function timeIdCursor(createdAt: Date, id: string): string {
  return `${createdAt.getTime()}_${id}`;
}

/** A cursor timeIdCursor made; undefined for anything else. */
export function parseTimeIdCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const match = /^(\d{1,15})_(.+)$/.exec(cursor);
  return match && isUuid(match[2] as string) ? { createdAt: new Date(Number(match[1])), id: match[2] as string } : undefined;
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

/** A role name the bank makes: lower-case letters, digits and underscores, as PostgreSQL folds them. */
const ROLE_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Gives a service its own PostgreSQL role that owns its database and may reach no other: the
 * database is closed to PUBLIC and opened to the role alone, so one service's credentials cannot
 * read another's tables (auth's signing keys above all). Idempotent: objects an earlier run made
 * as the administrator move to the role, so its migrations can alter them. `adminUrl` names the
 * service's database with a role that may create roles; the answer is the same URL with the
 * service's own credentials, which is what the service gets.
 */
export async function ensureServiceRole(adminUrl: string, role: string, password: string): Promise<string> {
  if (!ROLE_NAME_PATTERN.test(role)) throw new Error(`refusing to manage a role named ${JSON.stringify(role)}`);
  const ident = `"${role}"`;
  const name = await withAdminClient(adminUrl, async (admin, db) => {
    const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    if (exists.rowCount === 0) {
      await admin.query(`CREATE ROLE ${ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION`).catch((e: { code?: string }) => {
        if (e.code !== '42710') throw e;
      });
    }
    await admin.query(`ALTER ROLE ${ident} WITH LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    const dbExists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    if (dbExists.rowCount === 0) await admin.query(`CREATE DATABASE "${db}" OWNER ${ident}`);
    else await admin.query(`ALTER DATABASE "${db}" OWNER TO ${ident}`);
    await admin.query(`REVOKE ALL ON DATABASE "${db}" FROM PUBLIC`);
    await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE "${db}" TO ${ident}`);
    return db;
  });
  const inDatabase = new Client({ connectionString: adminUrl });
  await inDatabase.connect();
  try {
    await inDatabase.query(`ALTER SCHEMA public OWNER TO ${ident}`);
    // Tables first: their own sequences (serial, identity) follow them and cannot be moved alone.
    const statements = [
      `SELECT format('ALTER %s %s OWNER TO %I', CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, c.oid::regclass, $1::text) AS sql
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND pg_get_userbyid(c.relowner) <> $1`,
      `SELECT format('ALTER SEQUENCE %s OWNER TO %I', c.oid::regclass, $1::text) AS sql
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> $1`,
      `SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, $1::text) AS sql
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> $1`,
    ];
    for (const select of statements) {
      const { rows } = await inDatabase.query<{ sql: string }>(select, [role]);
      for (const { sql } of rows) await inDatabase.query(sql);
    }
  } finally {
    await inDatabase.end();
  }
  const own = new URL(adminUrl);
  own.username = role;
  own.password = password;
  own.pathname = `/${name}`;
  return own.toString();
}

export async function dropDatabase(url: string): Promise<void> {
  await withAdminClient(url, (client, name) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
