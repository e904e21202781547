import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { ConfigError, Database, KNOWN_ENV_VARS, RemoteCallError, createLogger, dropDatabase, ensureDatabase, loadConfig, type DatabaseOptions, type Logger, type Schema } from '@bank/platform';

/** The server integration tests use; CI and the dev machines run one on loopback with trust auth. */
export const TEST_DATABASE_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function suffix(): string {
  return `${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** A fresh database for one suite, so suites never see each other's rows. */
export async function createTestDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const url = new URL(TEST_DATABASE_ADMIN_URL);
  url.pathname = `/t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${suffix()}`;
  const text = url.toString();
  await ensureDatabase(text);
  return { url: text, drop: () => dropDatabase(text) };
}

/** A fresh database for one suite, opened and migrated; `close` closes it and drops it. */
export async function openTestDatabase(label: string, opts: Omit<DatabaseOptions, 'clientUrl'>): Promise<{ db: Database; url: string; close: () => Promise<void> }> {
  const t = await createTestDatabase(label);
  const db = await Database.open({ ...opts, clientUrl: t.url });
  try {
    await db.migrate();
  } catch (e) {
    await db.close();
    await t.drop();
    throw e;
  }
  return { db, url: t.url, close: async () => {
    await db.close();
    await t.drop();
  } };
}

/** Every suite's Redis keys live under this namespace; the global teardown drops it after a run. */
export const TEST_REDIS_NAMESPACE = 'test';

/** A Redis key prefix of its own for one suite's queues. */
export function testQueuePrefix(label: string): string {
  return `${TEST_REDIS_NAMESPACE}:${label}:${suffix()}`;
}

/** A logger whose lines are kept in memory, for tests that check what gets logged. */
export function captureLogger(service = 'test'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger(service, 'debug', sink), lines };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A TCP port free on 127.0.0.1 right now, for a server a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Awaits a call that must fail with a RemoteCallError (a peer's answer), and returns the error. */
export async function remoteFailure(call: Promise<unknown>): Promise<RemoteCallError> {
  try {
    await call;
  } catch (e) {
    if (e instanceof RemoteCallError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** The problems `loadConfig` reports for `env` (none when it loads): what a config test asserts on. */
export function configProblems(schema: Schema, env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(schema, env, KNOWN_ENV_VARS);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

/**
 * One statement on a connection of its own, closed after: what a test asks of a database behind
 * the services' backs (counts, the rows a check needs), or does to it (a deliberate corruption).
 */
export async function querySql<T extends Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, values)).rows;
  } finally {
    await c.end();
  }
}
