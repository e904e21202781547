import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, TEST_DATABASE_ADMIN_URL, waitFor } from './infra';

// Real outages for integration tests: a redis-server of the test's own that it stops and starts,
// and a database it makes unreachable the way an outage does (no new connections, sessions cut).

const REDIS_READY_TIMEOUT_MS = 10_000;
const REDIS_STOP_TIMEOUT_MS = 10_000;

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** SIGTERM and wait for the exit (the AOF is flushed: queued jobs survive, as on a real Redis restart). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  dispose(): Promise<void>;
}

function pingOk(port: number): boolean {
  return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8', timeout: 2_000 }).stdout?.trim() === 'PONG';
}

/** A redis-server on a free port with append-only persistence, owned by the test. */
export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'test-redis-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
    let failed: Error | undefined;
    started.once('error', (e) => (failed = e));
    proc = started;
    await waitFor(async () => {
      if (failed !== undefined) throw new Error(`redis-server could not be started: ${failed.message}`);
      // The new process must be the one answering, not an old one that did not stop.
      return started.exitCode === null && pingOk(port);
    }, REDIS_READY_TIMEOUT_MS, 50);
  };
  const stop = async () => {
    const p = proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), REDIS_STOP_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (!stopped) {
      p.kill('SIGKILL');
      await exited;
    }
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Makes a database unreachable: no new connections (`ALLOW_CONNECTIONS false`) and every session
 * of it terminated. Returns the function that lets connections in again.
 */
export async function blockDatabase(url: string): Promise<() => Promise<void>> {
  const name = new URL(url).pathname.slice(1);
  const admin = async (sql: string, values: unknown[] = []) => {
    const client = new Client({ connectionString: TEST_DATABASE_ADMIN_URL });
    await client.connect();
    try {
      await client.query(sql, values);
    } finally {
      await client.end();
    }
  };
  const ident = `"${name.replace(/"/g, '""')}"`;
  await admin(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS false`);
  await admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  return () => admin(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS true`);
}
