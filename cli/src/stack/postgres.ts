import path from 'node:path';
import { Client } from 'pg';
import { isAlive, pidFromFile, startChild, type Child } from './children';
import { delay, StackError } from './errors';
import { CLUSTER_LOCATION_FILE, planCluster, type ClusterPlan, type OsUser } from './postgres-placement';

/** The embedded server's port when it is free: next to 5432, so it never meets a system PostgreSQL. */
export const EMBEDDED_POSTGRES_DEFAULT_PORT = 54329;
export const EMBEDDED_POSTGRES_HOST = '127.0.0.1';
export const EMBEDDED_POSTGRES_USER = 'postgres';
/** initdb on a slow disk takes a few seconds; this is the bound, not the expectation. */
export const POSTGRES_INIT_TIMEOUT_MS = 120_000;
/** Start includes crash recovery when the last run did not stop cleanly. */
export const POSTGRES_START_TIMEOUT_MS = 60_000;
/** A fast shutdown (SIGINT) aborts open transactions; after this, an immediate one (SIGQUIT). */
export const POSTGRES_STOP_TIMEOUT_MS = 15_000;
export const POSTGRES_QUIT_WAIT_MS = 5_000;
/** What the keeper may take to stop the server (fast, then immediate shutdown), and a margin. */
export const POSTGRES_KEEPER_STOP_TIMEOUT_MS = POSTGRES_STOP_TIMEOUT_MS + POSTGRES_QUIT_WAIT_MS + 5_000;
const CONNECT_TIMEOUT_MS = 1_000;
const READY_POLL_INTERVAL_MS = 200;

/** The keeper's build output, next to this file's. */
const KEEPER_ENTRY = path.join(__dirname, 'postgres-keeper.js');

/** What bank-cli hands the keeper on its stdin. */
export interface KeeperOptions {
  /** bin/, lib/ and share/ of the PostgreSQL build (ClusterPlan.nativeDir). */
  readonly nativeDir: string;
  readonly dataDir: string;
  /** Whom the server runs as when bank-cli is root. */
  readonly owner?: OsUser;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export interface EmbeddedPostgres {
  readonly port: number;
  /** Where the binaries and the data really are, which may not be the requested data directory. */
  readonly plan: ClusterPlan;
  /** The keeper process; it stops the server when it is stopped. */
  readonly child: Child;
  /** A connection URL for `database` on this server. */
  url(database: string): string;
}

/** The postmaster's pid from postmaster.pid, when the file is there. */
export function postmasterPid(dataDir: string): number | undefined {
  return pidFromFile(path.join(dataDir, 'postmaster.pid'));
}

async function canConnect(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts PostgreSQL from the binaries npm installed, with its data in `dataDir` (initialised on
 * the first run only, reused afterwards so the bank's data survives restarts), or both moved to
 * where a root-run server's unprivileged user can reach them (postgres-placement.ts). The server runs
 * under a small keeper process (postgres-keeper.ts) in a process group of its own: started
 * directly by embedded-postgres it would share bank-cli's group, and a Ctrl-C at the terminal
 * would shut it down at once, under services that are still draining.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  password: string;
  env: NodeJS.ProcessEnv;
  onLine: (line: string) => void;
}): Promise<EmbeddedPostgres> {
  const plan = await planCluster(opts.dataDir);
  if (plan.relocatedBecause !== undefined) {
    opts.onLine(`${plan.relocatedBecause}, so it runs from ${plan.nativeDir} with its data in ${plan.dataDir} (recorded in ${path.join(path.dirname(opts.dataDir), CLUSTER_LOCATION_FILE)})`);
  }
  // Two servers on one data directory is what postmaster.pid prevents; say so in plain words.
  const earlier = postmasterPid(plan.dataDir);
  if (earlier !== undefined && isAlive(earlier)) {
    throw new StackError(
      `PostgreSQL (pid ${earlier}) is already running on ${plan.dataDir}: another \`bank-cli up\` is running, or an earlier one did not stop cleanly. Stop it (kill ${earlier}) and try again.`,
    );
  }
  const keeperOptions: KeeperOptions = {
    nativeDir: plan.nativeDir,
    dataDir: plan.dataDir,
    owner: plan.owner,
    host: EMBEDDED_POSTGRES_HOST,
    port: opts.port,
    user: EMBEDDED_POSTGRES_USER,
    password: opts.password,
  };
  const child = startChild({
    name: 'postgres',
    command: process.execPath,
    args: [KEEPER_ENTRY],
    env: opts.env,
    cwd: path.dirname(opts.dataDir),
    input: JSON.stringify(keeperOptions),
    onLine: opts.onLine,
  });
  const url = (database: string) =>
    `postgres://${EMBEDDED_POSTGRES_USER}:${encodeURIComponent(opts.password)}@${EMBEDDED_POSTGRES_HOST}:${opts.port}/${database}`;

  // The keeper bounds initdb and start itself; this is the backstop should it hang.
  const until = Date.now() + POSTGRES_INIT_TIMEOUT_MS + POSTGRES_START_TIMEOUT_MS;
  while (!(await canConnect(url('postgres')))) {
    if (child.hasExited) throw new StackError(`embedded PostgreSQL did not start (data in ${plan.dataDir}); see its output above`);
    if (Date.now() >= until) {
      await child.stop(POSTGRES_KEEPER_STOP_TIMEOUT_MS);
      throw new StackError(`embedded PostgreSQL did not accept connections on ${EMBEDDED_POSTGRES_HOST}:${opts.port} in time`);
    }
    await delay(READY_POLL_INTERVAL_MS);
  }
  return { port: opts.port, plan, child, url };
}
