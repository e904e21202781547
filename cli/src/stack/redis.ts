import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { isAlive, pidFromFile, startChild, type Child } from './children';
import { delay, describeError, EXIT_UNAVAILABLE, redactUrl, StackError } from './errors';

/** The port of a redis-server the stack starts, when free: clear of a system Redis on 6379. */
export const OWN_REDIS_DEFAULT_PORT = 63799;
export const OWN_REDIS_HOST = '127.0.0.1';
/** One PING, connection included. */
export const REDIS_PING_TIMEOUT_MS = 3_000;
/** How long a started redis-server has to answer PING. */
export const REDIS_START_TIMEOUT_MS = 15_000;
const REDIS_START_POLL_INTERVAL_MS = 200;
/** On SIGTERM redis-server writes its data out before it exits; that can take a moment. */
export const REDIS_STOP_TIMEOUT_MS = 15_000;

export const REDIS_MISSING_HELP =
  'Redis is needed and none was found. Either point REDIS_URL at a running Redis (e.g. REDIS_URL=redis://127.0.0.1:6379), ' +
  'or install redis-server so that it is on PATH (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`).';

/** Sends one PING to `url`; throws when it does not answer PONG in time. */
export async function pingRedis(url: string, timeoutMs = REDIS_PING_TIMEOUT_MS): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // One attempt: the caller decides whether and when to try again.
    retryStrategy: () => null,
  });
  // Without a listener, ioredis reports connection errors on stderr as unhandled.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${JSON.stringify(answer)}`);
  } finally {
    client.disconnect();
  }
}

/** Checks the Redis that REDIS_URL names, so a wrong URL fails here and not in six services. */
export async function checkExternalRedis(url: string): Promise<void> {
  try {
    await pingRedis(url);
  } catch (e) {
    throw new StackError(`REDIS_URL (${redactUrl(url)}) does not answer PING: ${describeError(e)}`, EXIT_UNAVAILABLE);
  }
}

/** The first executable called `command` on PATH. */
export async function findOnPath(command: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; the next directory on PATH may have it.
    }
  }
  return undefined;
}

export interface OwnRedis {
  readonly url: string;
  readonly child: Child;
}

/**
 * Starts `binary` as a child on loopback with its data in `dataDir`. Append-only persistence
 * keeps queued events across restarts, as a production Redis for queues would be configured.
 */
export async function startOwnRedis(opts: { binary: string; dataDir: string; port: number; env: NodeJS.ProcessEnv; onLine: (line: string) => void }): Promise<OwnRedis> {
  await mkdir(opts.dataDir, { recursive: true });
  // Nothing stops a second redis-server from writing the same append-only files; the pid file does.
  const pidFile = path.join(opts.dataDir, 'redis-server.pid');
  const earlier = pidFromFile(pidFile);
  if (earlier !== undefined && isAlive(earlier)) {
    throw new StackError(
      `redis-server (pid ${earlier}) is already running on ${opts.dataDir}: another \`bank-cli up\` is running, or an earlier one did not stop cleanly. Stop it (kill ${earlier}) and try again.`,
    );
  }
  const child = startChild({
    name: 'redis',
    command: opts.binary,
    args: [
      '--port', String(opts.port),
      '--bind', OWN_REDIS_HOST,
      '--protected-mode', 'yes',
      '--dir', opts.dataDir,
      '--appendonly', 'yes',
      '--daemonize', 'no',
      '--pidfile', pidFile,
      // Warnings only: its startup banner says nothing the stack does not say already.
      '--loglevel', 'warning',
    ],
    env: opts.env,
    cwd: opts.dataDir,
    onLine: opts.onLine,
  });
  const url = `redis://${OWN_REDIS_HOST}:${opts.port}`;
  const until = Date.now() + REDIS_START_TIMEOUT_MS;
  for (;;) {
    if (child.hasExited) {
      throw new StackError(`redis-server (${opts.binary}) stopped right after it started; see its output above`, EXIT_UNAVAILABLE);
    }
    try {
      await pingRedis(url);
      return { url, child };
    } catch (e) {
      if (Date.now() >= until) {
        await child.stop(REDIS_STOP_TIMEOUT_MS);
        throw new StackError(`redis-server on port ${opts.port} did not answer within ${REDIS_START_TIMEOUT_MS} ms: ${describeError(e)}`, EXIT_UNAVAILABLE);
      }
    }
    await delay(REDIS_START_POLL_INTERVAL_MS);
  }
}
