import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { newId } from '@bank/kernel';
import { checkHealth } from '@bank/platform';
import { TEST_REDIS_URL, TEST_SERVICE_TOKEN, createTestDatabase, freePort, testQueuePrefix, waitFor } from './infra';

// The bank as real processes for end-to-end tests: each service its own database, one Redis
// namespace, the gateway in front. Tests drive it through HTTP and take parts of it away.

const APPS = path.resolve(__dirname, '..', '..', '..', 'apps');
/** A service that does not answer its health check within this did not start. */
export const BANK_STARTUP_TIMEOUT_MS = 30_000;
const HEALTH_PROBE_TIMEOUT_MS = 500;
const STOP_TIMEOUT_MS = 15_000;

export type BankService = 'auth' | 'user' | 'ledger';
const SERVICES: readonly BankService[] = ['auth', 'user', 'ledger'];
const APP_OF: Record<BankService | 'gateway', string> = { auth: 'auth-service', user: 'user-service', ledger: 'transaction-service', gateway: 'api-gateway' };
const ENV_PREFIX: Record<BankService, string> = { auth: 'AUTH', user: 'USER', ledger: 'LEDGER' };

export interface TestBank {
  /** The gateway's base URL. */
  readonly url: string;
  /** gRPC address (host:port) of each service. */
  readonly addresses: Readonly<Record<BankService, string>>;
  readonly databases: Readonly<Record<BankService, string>>;
  readonly queuePrefix: string;
  /** Processes that exited while the bank was up (none, in a healthy run): name and how. */
  readonly exits: readonly string[];
  stop(): Promise<void>;
}

/** Starts auth-, user- and transaction-service and the gateway as the built processes. */
export async function startTestBank(opts: { label: string; redisUrl?: string; gatewayEnv?: Record<string, string> }): Promise<TestBank> {
  const dbs = await Promise.all(SERVICES.map((s) => createTestDatabase(`${opts.label}_${s}`)));
  const ports = await Promise.all([...SERVICES, 'gateway'].map(() => freePort()));
  const addresses = Object.fromEntries(SERVICES.map((s, i) => [s, `127.0.0.1:${ports[i]}`])) as Record<BankService, string>;
  const databases = Object.fromEntries(SERVICES.map((s, i) => [s, (dbs[i] as { url: string }).url])) as Record<BankService, string>;
  const queuePrefix = testQueuePrefix(opts.label);
  const common: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    SERVICE_TOKEN: TEST_SERVICE_TOKEN,
    REDIS_URL: opts.redisUrl ?? TEST_REDIS_URL,
    REDIS_QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'warn',
    AUTH_GRPC_ADDR: addresses.auth,
    USER_GRPC_ADDR: addresses.user,
    LEDGER_GRPC_ADDR: addresses.ledger,
  };
  const children = new Map<string, ChildProcess>();
  const exits: string[] = [];
  let stopping = false;
  const start = (name: BankService | 'gateway', env: Record<string, string>) => {
    const child = spawn(process.execPath, [path.join(APPS, APP_OF[name], 'dist', 'main.js')], { env: { ...common, ...env }, stdio: 'ignore' });
    child.once('exit', (code, signal) => {
      if (!stopping) exits.push(`${APP_OF[name]} exited (code ${code}, signal ${signal})`);
    });
    children.set(name, child);
  };
  const stop = async () => {
    stopping = true;
    await Promise.all(
      [...children.values()].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    for (const db of dbs) await db.drop();
  };
  try {
    SERVICES.forEach((s, i) => {
      start(s, { [`${ENV_PREFIX[s]}_DATABASE_URL`]: databases[s], [`${ENV_PREFIX[s]}_GRPC_PORT`]: String(ports[i]), ...(s === 'auth' ? { AUTH_BCRYPT_COST: '4' } : {}) });
    });
    for (const s of SERVICES) await waitFor(() => checkHealth(addresses[s], HEALTH_PROBE_TIMEOUT_MS), BANK_STARTUP_TIMEOUT_MS, 100);
    start('gateway', { GATEWAY_PORT: String(ports[SERVICES.length]), ...opts.gatewayEnv });
    const url = `http://127.0.0.1:${ports[SERVICES.length]}`;
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200, BANK_STARTUP_TIMEOUT_MS, 100);
    return { url, addresses, databases, queuePrefix, exits, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface ApiReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown> | undefined;
}

/** One JSON request to the gateway at `base`, as a client makes it. */
export async function callApi(base: string, method: string, url: string, body?: unknown, token?: string, headers: Record<string, string> = {}): Promise<ApiReply> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

export const TEST_CUSTOMER_PASSWORD = 'correct horse battery staple';

/** Signs a new customer up and logs them in; throws naming the step that was not answered as expected. */
export async function signUpCustomer(base: string): Promise<{ email: string; token: string; refreshToken: string; userId: string }> {
  const email = `c${newId().slice(-12)}@example.com`;
  const signup = await callApi(base, 'POST', '/v1/auth/signup', { email, password: TEST_CUSTOMER_PASSWORD, fullName: 'Ada Lovelace' });
  if (signup.status !== 201) throw new Error(`signup answered ${signup.status}: ${JSON.stringify(signup.body)}`);
  const login = await callApi(base, 'POST', '/v1/auth/login', { email, password: TEST_CUSTOMER_PASSWORD });
  if (login.status !== 200) throw new Error(`login answered ${login.status}: ${JSON.stringify(login.body)}`);
  return { email, token: login.body!.accessToken as string, refreshToken: login.body!.refreshToken as string, userId: signup.body!.userId as string };
}
