import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SERVICE_NODE_FLAGS } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { checkHealth } from '@bank/platform';
import { TEST_TLS_DIR, testIdentity } from './identities';
import { TEST_REDIS_URL, createTestDatabase, freePort, testQueuePrefix, waitFor } from './infra';

// The bank as real processes for end-to-end tests: each service its own database, one Redis
// namespace, the gateway in front. Tests drive it through HTTP and take parts of it away.

const APPS = path.resolve(__dirname, '..', '..', '..', 'apps');
/** A service that does not answer its health check within this did not start. */
export const BANK_STARTUP_TIMEOUT_MS = 30_000;
const HEALTH_PROBE_TIMEOUT_MS = 500;
const STOP_TIMEOUT_MS = 15_000;

export type BankService = 'auth' | 'user' | 'ledger' | 'payment' | 'notification';
const SERVICES: readonly BankService[] = ['auth', 'user', 'ledger', 'payment', 'notification'];
const APP_OF: Record<BankService | 'gateway', string> = { auth: 'auth-service', user: 'user-service', ledger: 'transaction-service', payment: 'payment-service', notification: 'notification-service', gateway: 'api-gateway' };
const ENV_PREFIX: Record<BankService, string> = { auth: 'AUTH', user: 'USER', ledger: 'LEDGER', payment: 'PAYMENT', notification: 'NOTIFICATION' };

export interface CliReply<T> {
  readonly code: number;
  readonly body: T;
  readonly stderr: string;
}

const CLI_ENTRY = path.resolve(APPS, '..', 'cli', 'dist', 'main.js');
/** bank-cli's output buffer in tests: a seed's logins and a long audit fit. */
const CLI_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Runs bank-cli with exactly these variables (and PATH), `--json` first; fails when it printed no JSON document. */
export function runBankCli<T>(env: Readonly<Record<string, string>>, args: readonly string[]): Promise<CliReply<T>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI_ENTRY, '--json', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, maxBuffer: CLI_MAX_OUTPUT_BYTES }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      try {
        resolve({ code, body: JSON.parse(stdout) as T, stderr });
      } catch {
        reject(new Error(`bank-cli ${args.join(' ')} exited ${code} without one JSON document: ${stdout}${stderr}`));
      }
    });
  });
}

export interface TestBank {
  /** The gateway's base URL. */
  readonly url: string;
  /** The gateway's operations port (metrics, detailed readiness). */
  readonly opsUrl: string;
  /** gRPC address (host:port) of each service. */
  readonly addresses: Readonly<Record<BankService, string>>;
  readonly databases: Readonly<Record<BankService, string>>;
  readonly queuePrefix: string;
  /** Processes that exited while the bank was up (none, in a healthy run): name and how. */
  readonly exits: readonly string[];
  /** Sends a signal to a service (SIGSTOP/SIGCONT to freeze and thaw it, SIGKILL to crash it); a crash is not counted in `exits`. */
  signal(service: BankService | 'gateway', signal: NodeJS.Signals): Promise<void>;
  /** Starts a service again (after SIGKILL) with the same settings, or these changed, and waits until it serves. */
  restart(service: BankService | 'gateway', env?: Record<string, string>): Promise<void>;
  /** Resolves when the service's process exits by itself (a failpoint); that exit is not counted in `exits`. */
  exitOf(service: BankService): Promise<void>;
  /** Grants roles with bank-cli (through auth-service), as an operator would. */
  grantRoles(email: string, roles: readonly string[]): Promise<void>;
  /** What bank-cli needs to find this bank: the documented variables an operator sets for a deployment. */
  readonly cliEnv: Readonly<Record<string, string>>;
  /** Runs bank-cli against this bank with --json: its exit code, the one document it printed, and its stderr. */
  cli<T = Record<string, unknown>>(...args: string[]): Promise<CliReply<T>>;
  /** Each gRPC service's Prometheus endpoint (the gateway's is opsUrl + /metrics). */
  readonly metricsUrls: Readonly<Record<BankService, string>>;
  /** The process id of a service running now (for its RSS, or a profiler). */
  pidOf(service: BankService | 'gateway'): number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts auth-, user-, transaction- and payment-service and the gateway as the built processes;
 * notification-service too when given an SMTP server to send through (its address and database
 * exist either way, so that its peers find nobody there rather than somebody else's).
 */
type ServiceEnv = Partial<Record<BankService, Record<string, string>>>;

/**
 * `serviceEnv` may depend on where the services listen (known only once ports are chosen): a
 * fault harness puts a proxy in front of one and points its peers there.
 */
export async function startTestBank(opts: { label: string; redisUrl?: string; smtpUrl?: string; gatewayEnv?: Record<string, string>; onOutput?: (app: string, line: string) => void; nodeArgs?: readonly string[]; serviceEnv?: ServiceEnv | ((addresses: Readonly<Record<BankService, string>>) => Promise<ServiceEnv>) }): Promise<TestBank> {
  const dbs = await Promise.all(SERVICES.map((s) => createTestDatabase(`${opts.label}_${s}`)));
  const ports = await Promise.all([...SERVICES, 'gateway', 'gateway-ops'].map(() => freePort()));
  const metricsPorts = await Promise.all(SERVICES.map(() => freePort()));
  const metricsUrls = Object.fromEntries(SERVICES.map((s, i) => [s, `http://127.0.0.1:${metricsPorts[i]}/metrics`])) as Record<BankService, string>;
  const addresses = Object.fromEntries(SERVICES.map((s, i) => [s, `127.0.0.1:${ports[i]}`])) as Record<BankService, string>;
  const databases = Object.fromEntries(SERVICES.map((s, i) => [s, (dbs[i] as { url: string }).url])) as Record<BankService, string>;
  const queuePrefix = testQueuePrefix(opts.label);
  const serviceEnv = typeof opts.serviceEnv === 'function' ? await opts.serviceEnv(addresses) : opts.serviceEnv;
  const common: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    BANK_TLS_DIR: TEST_TLS_DIR,
    REDIS_URL: opts.redisUrl ?? TEST_REDIS_URL,
    REDIS_QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'warn',
    AUTH_GRPC_ADDR: addresses.auth,
    USER_GRPC_ADDR: addresses.user,
    LEDGER_GRPC_ADDR: addresses.ledger,
    PAYMENT_GRPC_ADDR: addresses.payment,
    NOTIFICATION_GRPC_ADDR: addresses.notification,
  };
  const started = SERVICES.filter((s) => s !== 'notification' || opts.smtpUrl !== undefined);
  const children = new Map<string, ChildProcess>();
  const envs = new Map<string, Record<string, string>>();
  const killed = new Set<ChildProcess>();
  const exits: string[] = [];
  let stopping = false;
  const start = (name: BankService | 'gateway', env: Record<string, string>) => {
    // BANK_TEST_LOGS=1 shows the services' own output (a service that will not start says why
    // there); `onOutput` hands a test each line the service writes; `nodeArgs` go to node (a profiler).
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...(opts.nodeArgs ?? []), path.join(APPS, APP_OF[name], 'dist', 'main.js')], { env: { ...common, ...env }, stdio: opts.onOutput ? ['ignore', 'pipe', 'pipe'] : process.env.BANK_TEST_LOGS === '1' ? 'inherit' : 'ignore' });
    const onOutput = opts.onOutput;
    if (onOutput) for (const stream of [child.stdout, child.stderr]) if (stream) createInterface({ input: stream }).on('line', (line) => onOutput(APP_OF[name], line));
    child.once('exit', (code, signal) => {
      if (!stopping && !killed.has(child)) exits.push(`${APP_OF[name]} exited (code ${code}, signal ${signal})`);
    });
    children.set(name, child);
    envs.set(name, env);
  };
  const signal = async (service: BankService | 'gateway', sig: NodeJS.Signals) => {
    const child = children.get(service);
    if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error(`${APP_OF[service]} is not running`);
    if (sig === 'SIGKILL') {
      killed.add(child);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(sig);
      await exited;
      return;
    }
    child.kill(sig);
  };
  const exitOf = (service: BankService) => {
    const child = children.get(service);
    if (!child) return Promise.resolve();
    killed.add(child);
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => child.once('exit', () => resolve()));
  };
  const gatewayUrl = `http://127.0.0.1:${ports[SERVICES.length]}`;
  const gatewayUp = async () => (await fetch(`${gatewayUrl}/healthz`).catch(() => undefined))?.status === 200;
  const restart = async (service: BankService | 'gateway', env?: Record<string, string>) => {
    start(service, { ...envs.get(service), ...env });
    if (service === 'gateway') await waitFor(gatewayUp, BANK_STARTUP_TIMEOUT_MS, 100);
    else await waitFor(() => checkHealth(addresses[service], testIdentity('bank-cli'), HEALTH_PROBE_TIMEOUT_MS), BANK_STARTUP_TIMEOUT_MS, 100);
  };
  const cliEnv: Record<string, string> = {
    BANK_TLS_DIR: TEST_TLS_DIR,
    REDIS_URL: common.REDIS_URL as string,
    REDIS_QUEUE_PREFIX: queuePrefix,
    // Only the services that run: one left out is unknown to bank-cli, as in a deployment without it.
    ...Object.fromEntries(started.flatMap((s) => [[`${ENV_PREFIX[s]}_GRPC_ADDR`, addresses[s]], [`${ENV_PREFIX[s]}_DATABASE_URL`, databases[s]]])),
  };
  const cli = <T,>(...args: string[]) => runBankCli<T>(cliEnv, args);
  const grantRoles = async (email: string, roles: readonly string[]) => {
    const r = await cli<{ roles?: string[] }>('roles', 'set', '--email', email, '--roles', roles.join(','));
    if (r.code !== 0) throw new Error(`bank-cli roles set exited ${r.code}: ${r.stderr}`);
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
      if (!started.includes(s)) return;
      const own = { ...(s === 'auth' ? { AUTH_BCRYPT_COST: '4' } : {}), ...(s === 'notification' ? { SMTP_URL: opts.smtpUrl as string } : {}) };
      start(s, { [`${ENV_PREFIX[s]}_DATABASE_URL`]: databases[s], [`${ENV_PREFIX[s]}_GRPC_PORT`]: String(ports[i]), [`${ENV_PREFIX[s]}_METRICS_PORT`]: String(metricsPorts[i]), ...own, ...serviceEnv?.[s] });
    });
    for (const s of started) await waitFor(() => checkHealth(addresses[s], testIdentity('bank-cli'), HEALTH_PROBE_TIMEOUT_MS), BANK_STARTUP_TIMEOUT_MS, 100);
    start('gateway', { GATEWAY_PORT: String(ports[SERVICES.length]), GATEWAY_OPS_PORT: String(ports[SERVICES.length + 1]), ...opts.gatewayEnv });
    const url = gatewayUrl;
    const opsUrl = `http://127.0.0.1:${ports[SERVICES.length + 1]}`;
    await waitFor(gatewayUp, BANK_STARTUP_TIMEOUT_MS, 100);
    const pidOf = (service: BankService | 'gateway') => {
      const c = children.get(service);
      return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
    };
    return { url, opsUrl, addresses, databases, metricsUrls, queuePrefix, exits, signal, restart, exitOf, pidOf, grantRoles, cliEnv, cli, stop };
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

/** An operator's access token: a customer signs up, bank-cli grants the role, and a new login carries it. */
export async function signInOperator(bank: TestBank): Promise<string> {
  const op = await signUpCustomer(bank.url);
  await bank.grantRoles(op.email, ['customer', 'operator']);
  const login = await callApi(bank.url, 'POST', '/v1/auth/login', { email: op.email, password: TEST_CUSTOMER_PASSWORD });
  if (login.status !== 200) throw new Error(`operator login answered ${login.status}: ${JSON.stringify(login.body)}`);
  return login.body!.accessToken as string;
}
