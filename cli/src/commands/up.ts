import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { SERVICE_NODE_FLAGS, WORKLOADS } from '@bank/contracts';
import { ensureDatabase, ensureServiceRole, issueLocalIdentities, loadIdentity, QUEUE_PREFIX, SHUTDOWN_TIMEOUT_MS } from '@bank/platform';
import { describeExit, startChild, type Child, type ChildExit } from '../stack/children';
import { describeError, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE, redactUrl, StackError, withTimeout } from '../stack/errors';
import {
  appEntry,
  databaseUrlVar,
  dataDirFrom,
  tlsDirFrom,
  GATEWAY,
  grpcAddrVar,
  grpcPortVar,
  metricsPortVar,
  GRPC_SERVICES,
  missingEntries,
  REPO_ROOT,
  type ServicePrefix,
} from '../stack/layout';
import { renderLogLine } from '../stack/logline';
import { LOCAL_MAIL_FROM, MAILDEV_DEFAULT_SMTP_PORT, MAILDEV_DEFAULT_WEB_PORT, MAILDEV_HOST, startMailDev } from '../stack/maildev';
import { parsePort, PortPlanner } from '../stack/ports';
import { EMBEDDED_POSTGRES_DEFAULT_PORT, EMBEDDED_POSTGRES_HOST, POSTGRES_KEEPER_STOP_TIMEOUT_MS, startEmbeddedPostgres } from '../stack/postgres';
import { grpcHealthCheck, httpReadyCheck, waitUntilReady, type ReadinessCheck } from '../stack/readiness';
import { checkExternalRedis, findOnPath, OWN_REDIS_DEFAULT_PORT, OWN_REDIS_HOST, REDIS_MISSING_HELP, REDIS_STOP_TIMEOUT_MS, startOwnRedis } from '../stack/redis';
import { POSTGRES_PASSWORD_LENGTH, POSTGRES_ROLE_SECRETS_DIR, readOrCreateSecret } from '../stack/secrets';
import { createTerminal, type Terminal } from '../stack/terminal';
import { removeStackFile, writeStackFile } from '../stack/stack-file';

/** From the moment the services are started until all of them and the gateway answer. */
export const STARTUP_TIMEOUT_MS = 120_000;
/**
 * A service drains for up to SHUTDOWN_TIMEOUT_MS after SIGTERM and then exits by itself; a
 * process still there after a margin on top of that is killed.
 */
export const CHILD_STOP_TIMEOUT_MS = SHUTDOWN_TIMEOUT_MS + 5_000;
/** Creating a database on a server that does not answer would otherwise wait for TCP to give up. */
export const DATABASE_CHECK_TIMEOUT_MS = 15_000;
/** Once everything is stopped bank-cli ends by itself; a stray open handle cannot hold it longer. */
export const EXIT_GRACE_MS = 2_000;
const DEFAULT_BIND_HOST = '127.0.0.1';
/** The README section with the tested walkthrough that the start points a newcomer to. */
export const WALKTHROUGH_HEADING = 'First payment: a walkthrough';
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const ERROR_COLOUR = 31;

const ENV_HELP = `
Environment:
  BANK_DATA_DIR            where the stack keeps its data (default: <repository>/.data)
  *_DATABASE_URL           AUTH_, USER_, LEDGER_, PAYMENT_ and NOTIFICATION_DATABASE_URL: all five
                           to use your PostgreSQL (missing databases are created), or none for the
                           embedded one (port ${EMBEDDED_POSTGRES_DEFAULT_PORT} or the next free one)
  REDIS_URL                a running Redis; without it a redis-server from PATH is started
                           (port ${OWN_REDIS_DEFAULT_PORT} or the next free one)
  SMTP_URL, MAIL_FROM      the services' mail server and sender; without SMTP_URL, MailDev
  BANK_TLS_DIR             the workloads' certificates (ca.crt, <workload>.crt and .key); without
                           it a local CA and one certificate per workload are made in BANK_DATA_DIR/tls
  *_GRPC_PORT              AUTH_, USER_, LEDGER_, PAYMENT_ and NOTIFICATION_GRPC_PORT (default:
                           50051 to 50055, or the next free ones)
  GATEWAY_PORT             the gateway's HTTP port (default: 8080, or the next free one)
  GATEWAY_OPS_PORT         the gateway's operations port, /metrics and a detailed /readyz
                           (default: ${GATEWAY.defaultOpsPort}, or the next free one)
  *_METRICS_PORT           each gRPC service's Prometheus /metrics (default: 9465 to 9469, or the
                           next free ones)
  others                   (LOG_LEVEL, BIND_HOST, REDIS_QUEUE_PREFIX, ...) are passed on as they are`;

export interface UpOptions {
  readonly maildevSmtpPort?: number;
  readonly maildevWebPort?: number;
}

function portArgument(raw: string): number {
  try {
    return parsePort(raw, 'the port');
  } catch (e) {
    throw new InvalidArgumentError(describeError(e));
  }
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run the whole bank on this machine (PostgreSQL, Redis, MailDev and the six services) until Ctrl-C')
    .addOption(
      new Option('--maildev-smtp-port <port>', `SMTP port of MailDev (default: ${MAILDEV_DEFAULT_SMTP_PORT} or the next free one)`).env('MAILDEV_SMTP_PORT').argParser(portArgument),
    )
    .addOption(
      new Option('--maildev-web-port <port>', `web port of MailDev's inbox (default: ${MAILDEV_DEFAULT_WEB_PORT} or the next free one)`).env('MAILDEV_WEB_PORT').argParser(portArgument),
    )
    .addHelpText('after', ENV_HELP)
    .action(async (options: UpOptions) => {
      const code = await up(options, process.env);
      process.exitCode = code;
      setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
    });
}

/** Why the stack stops; also the abort reason of `Run.stopping`. */
type StopReason = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'child-exit'; name: string; exit: ChildExit };

/** Something to undo on the way out; they run in the reverse order of their registration. */
interface Cleanup {
  readonly name: string;
  run(): Promise<void>;
}

/** What the steps of a run share. */
interface Run {
  readonly env: NodeJS.ProcessEnv;
  readonly options: UpOptions;
  readonly terminal: Terminal;
  readonly cleanups: Cleanup[];
  /** Every process started, for the last-resort kill when bank-cli exits abnormally. */
  readonly children: Child[];
  /** Aborts, with the StopReason, on Ctrl-C/SIGTERM or when a process dies. */
  readonly stopping: AbortSignal;
  requestStop(reason: StopReason): void;
}

interface Ports {
  readonly services: ReadonlyMap<ServicePrefix, number>;
  readonly gateway: number;
  readonly gatewayOps: number;
  /** Each gRPC service's metrics port. */
  readonly metrics: ReadonlyMap<ServicePrefix, number>;
  /** 0 for what this run does not start. */
  readonly smtp: number;
  readonly mailWeb: number;
  readonly postgres: number;
  readonly redis: number;
}

type RedisPlan = { kind: 'external'; url: string } | { kind: 'own'; binary: string };

/** A variable's value; an empty one counts as not set, as it does for the services. */
function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function exitCodeFor(reason: StopReason): number {
  return reason.kind === 'signal' ? EXIT_OK : EXIT_FAILURE;
}

function isStopReason(value: unknown): value is StopReason {
  return typeof value === 'object' && value !== null && ((value as StopReason).kind === 'signal' || (value as StopReason).kind === 'child-exit');
}

/** A path as the person at the terminal would type it. */
function shown(p: string): string {
  const relative = path.relative(process.cwd(), p);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : p;
}

/** Runs the stack until a signal or a failure, then stops what was started; returns the exit code. */
export async function up(options: UpOptions, env: NodeJS.ProcessEnv): Promise<number> {
  const sources = ['postgres', 'redis', 'maildev', ...GRPC_SERVICES.map((s) => s.name), GATEWAY.name];
  const terminal = createTerminal(process.stdout, sources, env);
  const controller = new AbortController();
  const run: Run = {
    env,
    options,
    terminal,
    cleanups: [],
    children: [],
    stopping: controller.signal,
    requestStop: (reason) => {
      if (!controller.signal.aborted) controller.abort(reason);
    },
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (run.stopping.aborted) {
      terminal.say(`${signal}: already stopping (every step is bounded; the longest, a service's drain, by ${CHILD_STOP_TIMEOUT_MS / 1000} s)`);
      return;
    }
    terminal.say(`${signal} received: stopping the bank`);
    run.requestStop({ kind: 'signal', signal });
  };
  // The children run in process groups of their own: should bank-cli die of an unexpected error, they must not outlive it.
  const killChildren = () => run.children.forEach((c) => c.kill());
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  process.on('exit', killChildren);

  let code: number;
  try {
    code = await startAndServe(run);
  } catch (e) {
    if (isStopReason(e)) {
      // A stop was asked for while the stack was still starting.
      code = exitCodeFor(e);
    } else {
      terminal.say(terminal.paint(ERROR_COLOUR, e instanceof StackError ? e.message : `unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
      code = e instanceof StackError ? e.exitCode : EXIT_FAILURE;
    }
  }
  if (run.cleanups.length > 0) {
    terminal.say('stopping');
    for (const cleanup of run.cleanups.reverse()) {
      try {
        await cleanup.run();
      } catch (e) {
        terminal.say(terminal.paint(ERROR_COLOUR, `${cleanup.name} did not stop cleanly: ${describeError(e)}`));
        if (code === EXIT_OK) code = EXIT_FAILURE;
      }
    }
    terminal.say(code === EXIT_OK ? 'stopped' : `stopped (exit code ${code})`);
  }
  for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  process.off('exit', killChildren);
  return code;
}

/** Starts everything, waits until it answers, then serves until told to stop; returns the exit code. */
async function startAndServe(run: Run): Promise<number> {
  const { env, terminal } = run;
  const startedAt = Date.now();
  const missing = missingEntries([...GRPC_SERVICES.map((s) => s.name), GATEWAY.name]);
  if (missing.length > 0) {
    throw new StackError(`not built: ${missing.join(', ')}. Build first with \`npx tsc -b\` (\`npm start\` does).`, EXIT_CONFIG);
  }
  // Whatever can be wrong with the settings is found before anything starts.
  const externalDatabases = externalDatabaseUrls(env);
  const redisPlan = await planRedis(env);
  const useMailDev = setting(env, 'SMTP_URL') === undefined;
  const bindHost = setting(env, 'BIND_HOST') ?? DEFAULT_BIND_HOST;
  // Probes and printed URLs need an address to connect to, which a wildcard is not.
  const connectHost = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost;
  const ports = await planPorts(run, bindHost, { postgres: externalDatabases === undefined, redis: redisPlan.kind === 'own', mailDev: useMailDev });
  const dataDir = dataDirFrom(env);
  await mkdir(dataDir, { recursive: true });
  // Each workload's own certificate, from a CA of this data directory (or BANK_TLS_DIR's, when
  // certificates are provided): no shared secret inside the bank.
  const tlsDir = tlsDirFrom(env);
  if (setting(env, 'BANK_TLS_DIR') === undefined) await issueLocalIdentities(tlsDir, WORKLOADS);
  const operator = loadIdentity(tlsDir, 'bank-cli');
  run.stopping.throwIfAborted();

  const databaseUrls = await startPostgres(run, externalDatabases, path.join(dataDir, 'postgres'), ports.postgres);
  run.stopping.throwIfAborted();
  const redisUrl = await startRedis(run, redisPlan, path.join(dataDir, 'redis'), ports.redis);
  run.stopping.throwIfAborted();
  const mail = useMailDev ? await startMail(run, ports, path.join(dataDir, 'maildev')) : { smtpUrl: setting(env, 'SMTP_URL') ?? '', inboxUrl: undefined };
  if (!useMailDev) terminal.print('maildev', `not started: the services send mail through SMTP_URL (${redactUrl(mail.smtpUrl)})`);
  run.stopping.throwIfAborted();

  // What every service reads; each is given its own database below, and only that one.
  const shared: NodeJS.ProcessEnv = {
    ...env,
    BANK_TLS_DIR: tlsDir,
    REDIS_URL: redisUrl,
    BIND_HOST: bindHost,
    SMTP_URL: mail.smtpUrl,
    MAIL_FROM: setting(env, 'MAIL_FROM') ?? LOCAL_MAIL_FROM,
    BANK_DATA_DIR: dataDir,
    [GATEWAY.portVar]: String(ports.gateway),
    [GATEWAY.opsPortVar]: String(ports.gatewayOps),
  };
  const checks: ReadinessCheck[] = [];
  for (const service of GRPC_SERVICES) {
    const address = `${connectHost}:${ports.services.get(service.prefix)}`;
    delete shared[databaseUrlVar(service.prefix)];
    shared[grpcPortVar(service.prefix)] = String(ports.services.get(service.prefix));
    shared[grpcAddrVar(service.prefix)] = address;
    shared[metricsPortVar(service.prefix)] = String(ports.metrics.get(service.prefix));
    checks.push(grpcHealthCheck(service.name, address, operator));
  }
  const grpcChildren = GRPC_SERVICES.map((service) =>
    startApp(run, service.name, { ...shared, [databaseUrlVar(service.prefix)]: databaseUrls.get(service.prefix) }),
  );
  const gatewayUrl = `http://${connectHost}:${ports.gateway}`;
  const gateway = startApp(run, GATEWAY.name, shared);
  checks.push(httpReadyCheck(GATEWAY.name, `${gatewayUrl}${GATEWAY.readinessPath}`));
  run.cleanups.push({
    name: 'the services',
    run: async () => {
      // The gateway first, so that no request arrives at a service that is already draining.
      await stopChildren(run, [gateway]);
      await stopChildren(run, grpcChildren);
    },
  });

  terminal.say(`started ${checks.length} processes; waiting until they answer (at most ${STARTUP_TIMEOUT_MS / 1000} s)`);
  const progress = terminal.progress(checks.length);
  const outcome = await waitUntilReady(checks, { timeoutMs: STARTUP_TIMEOUT_MS, signal: run.stopping, progress }).finally(() => progress.stop());
  run.stopping.throwIfAborted();
  if (outcome.kind === 'timed-out') {
    throw new StackError(`not ready within ${STARTUP_TIMEOUT_MS / 1000} s: still waiting for ${outcome.waitingFor.join(', ')} (see their output above)`);
  }

  // Where bank-cli's other commands find this stack when no variable names it.
  await writeStackFile(dataDir, {
    pid: process.pid,
    gatewayUrl,
    redisUrl,
    queuePrefix: setting(env, 'REDIS_QUEUE_PREFIX') ?? QUEUE_PREFIX,
    services: Object.fromEntries(GRPC_SERVICES.map((s) => [s.prefix, { grpcAddr: `${connectHost}:${ports.services.get(s.prefix)}`, databaseUrl: databaseUrls.get(s.prefix) ?? '' }])),
  });
  run.cleanups.push({ name: 'the stack file', run: () => removeStackFile(dataDir) });
  terminal.say(`the bank is up (${((Date.now() - startedAt) / 1000).toFixed(1)} s):`);
  terminal.say(`  gateway     ${gatewayUrl}`);
  terminal.say(`  swagger     ${gatewayUrl}${GATEWAY.docsPath}`);
  terminal.say(`  metrics     http://${connectHost}:${ports.gatewayOps}${GATEWAY.metricsPath} (gateway); ${GRPC_SERVICES.map((s) => `${s.name} :${ports.metrics.get(s.prefix)}`).join(', ')}`);
  terminal.say(mail.inboxUrl !== undefined ? `  mail inbox  ${mail.inboxUrl}` : '  mail        through SMTP_URL');
  terminal.say(`first steps: README.md, "${WALKTHROUGH_HEADING}" (sign up, open accounts, deposit, pay, read a statement)`);
  terminal.say('press Ctrl-C to stop');
  const reason = await new Promise<unknown>((resolve) => {
    if (run.stopping.aborted) resolve(run.stopping.reason);
    else run.stopping.addEventListener('abort', () => resolve(run.stopping.reason), { once: true });
  });
  return isStopReason(reason) ? exitCodeFor(reason) : EXIT_FAILURE;
}

/**
 * Every port of the run, settled before anything starts so that a clash is reported at once.
 * Ports named in the environment or on the command line are taken as given.
 */
async function planPorts(run: Run, bindHost: string, starts: { postgres: boolean; redis: boolean; mailDev: boolean }): Promise<Ports> {
  const planners = new Map<string, PortPlanner>();
  const on = (host: string): PortPlanner => {
    let planner = planners.get(host);
    if (planner === undefined) {
      planner = new PortPlanner(host);
      planners.set(host, planner);
    }
    return planner;
  };
  const fromEnv = (name: string) => {
    const raw = setting(run.env, name);
    return raw === undefined ? undefined : parsePort(raw, name);
  };
  const services = new Map<ServicePrefix, number>();
  const metrics = new Map<ServicePrefix, number>();
  for (const service of GRPC_SERVICES) {
    const name = grpcPortVar(service.prefix);
    services.set(service.prefix, await on(bindHost).pick(fromEnv(name), name, service.defaultPort));
  }
  for (const service of GRPC_SERVICES) {
    const name = metricsPortVar(service.prefix);
    metrics.set(service.prefix, await on(bindHost).pick(fromEnv(name), name, service.defaultMetricsPort));
  }
  return {
    services,
    metrics,
    gateway: await on(bindHost).pick(fromEnv(GATEWAY.portVar), GATEWAY.portVar, GATEWAY.defaultPort),
    gatewayOps: await on(bindHost).pick(fromEnv(GATEWAY.opsPortVar), GATEWAY.opsPortVar, GATEWAY.defaultOpsPort),
    smtp: starts.mailDev ? await on(MAILDEV_HOST).pick(run.options.maildevSmtpPort, 'the MailDev SMTP port', MAILDEV_DEFAULT_SMTP_PORT) : 0,
    mailWeb: starts.mailDev ? await on(MAILDEV_HOST).pick(run.options.maildevWebPort, 'the MailDev web port', MAILDEV_DEFAULT_WEB_PORT) : 0,
    postgres: starts.postgres ? await on(EMBEDDED_POSTGRES_HOST).fromDefault(EMBEDDED_POSTGRES_DEFAULT_PORT, 'the embedded PostgreSQL') : 0,
    redis: starts.redis ? await on(OWN_REDIS_HOST).fromDefault(OWN_REDIS_DEFAULT_PORT, 'redis-server') : 0,
  };
}

/**
 * The five database URLs when the environment gives all of them, undefined when it gives none.
 * Some but not all is refused: the services would end up split over two servers without anyone
 * having asked for that.
 */
function externalDatabaseUrls(env: NodeJS.ProcessEnv): Map<ServicePrefix, string> | undefined {
  const given = new Map<ServicePrefix, string>();
  for (const service of GRPC_SERVICES) {
    const url = setting(env, databaseUrlVar(service.prefix));
    if (url !== undefined) given.set(service.prefix, url);
  }
  if (given.size === 0) return undefined;
  if (given.size < GRPC_SERVICES.length) {
    const names = (set: boolean) => GRPC_SERVICES.filter((s) => given.has(s.prefix) === set).map((s) => databaseUrlVar(s.prefix));
    throw new StackError(`${names(true).join(', ')} set but ${names(false).join(', ')} not: set all five to use your own PostgreSQL, or none for the embedded one`, EXIT_CONFIG);
  }
  return given;
}

/** The services' database URLs, on the given server or on the embedded one; missing databases are created. */
async function startPostgres(run: Run, external: Map<ServicePrefix, string> | undefined, dataDir: string, port: number): Promise<Map<ServicePrefix, string>> {
  const { terminal } = run;
  let urls: Map<ServicePrefix, string>;
  if (external !== undefined) {
    urls = external;
    terminal.print('postgres', `using the *_DATABASE_URL settings (${[...new Set([...urls.values()].map((u) => new URL(u).host))].join(', ')})`);
  } else {
    const password = await readOrCreateSecret(path.join(path.dirname(dataDir), 'postgres-password'), POSTGRES_PASSWORD_LENGTH);
    const server = await startEmbeddedPostgres({ dataDir, port, password, env: run.env, onLine: (line) => terminal.print('postgres', line) });
    supervise(run, server.child);
    run.cleanups.push({
      name: 'embedded PostgreSQL',
      run: async () => {
        await stopChildren(run, [server.child], POSTGRES_KEEPER_STOP_TIMEOUT_MS);
        terminal.print('postgres', 'stopped');
      },
    });
    terminal.print('postgres', `embedded PostgreSQL on ${EMBEDDED_POSTGRES_HOST}:${port}, data in ${shown(server.plan.dataDir)}`);
    // Each service gets its own role, owning its database and reaching no other; the services
    // never see the administrator's password. Role passwords are kept beside it, one file each.
    urls = new Map();
    for (const service of GRPC_SERVICES) {
      const adminUrl = server.url(service.database);
      const rolePassword = await readOrCreateSecret(path.join(path.dirname(dataDir), POSTGRES_ROLE_SECRETS_DIR, service.database), POSTGRES_PASSWORD_LENGTH);
      urls.set(service.prefix, await databaseStep(service.name, adminUrl, () => ensureServiceRole(adminUrl, service.database, rolePassword)));
    }
    return urls;
  }
  for (const service of GRPC_SERVICES) {
    const url = urls.get(service.prefix) ?? '';
    await databaseStep(service.name, url, () => ensureDatabase(url));
  }
  return urls;
}

/** One database set-up step of a service, bounded in time, failing the start with a clear reason. */
async function databaseStep<T>(serviceName: string, url: string, step: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(step(), DATABASE_CHECK_TIMEOUT_MS, `no answer within ${DATABASE_CHECK_TIMEOUT_MS} ms`);
  } catch (e) {
    throw new StackError(`cannot reach or create the database of ${serviceName} (${redactUrl(url)}): ${describeError(e)}`, EXIT_UNAVAILABLE);
  }
}

/** REDIS_URL when given (and answering), else a redis-server from PATH; neither is an error. */
async function planRedis(env: NodeJS.ProcessEnv): Promise<RedisPlan> {
  const given = setting(env, 'REDIS_URL');
  if (given !== undefined) {
    await checkExternalRedis(given);
    return { kind: 'external', url: given };
  }
  const binary = await findOnPath('redis-server', env);
  if (binary === undefined) throw new StackError(REDIS_MISSING_HELP, EXIT_UNAVAILABLE);
  return { kind: 'own', binary };
}

/** The URL of the Redis the services use, starting a redis-server for this run when planned so. */
async function startRedis(run: Run, plan: RedisPlan, dataDir: string, port: number): Promise<string> {
  const { env, terminal } = run;
  if (plan.kind === 'external') {
    terminal.print('redis', `using REDIS_URL (${redactUrl(plan.url)})`);
    return plan.url;
  }
  const redis = await startOwnRedis({ binary: plan.binary, dataDir, port, env, onLine: (line) => terminal.print('redis', line) });
  supervise(run, redis.child);
  run.cleanups.push({
    name: 'redis-server',
    run: async () => {
      await stopChildren(run, [redis.child], REDIS_STOP_TIMEOUT_MS);
      terminal.print('redis', 'stopped');
    },
  });
  terminal.print('redis', `redis-server on ${OWN_REDIS_HOST}:${port}, data in ${shown(dataDir)}`);
  return redis.url;
}

async function startMail(run: Run, ports: Ports, mailDir: string): Promise<{ smtpUrl: string; inboxUrl: string }> {
  const { terminal } = run;
  const maildev = await startMailDev({ smtpPort: ports.smtp, webPort: ports.mailWeb, mailDir, onLine: (line) => terminal.print('maildev', line) });
  run.cleanups.push({
    name: 'MailDev',
    run: async () => {
      await maildev.stop();
      terminal.print('maildev', 'stopped');
    },
  });
  terminal.print('maildev', `SMTP on ${MAILDEV_HOST}:${ports.smtp}, inbox on ${maildev.webUrl}, mail kept in ${shown(mailDir)}`);
  return { smtpUrl: maildev.smtpUrl, inboxUrl: maildev.webUrl };
}

function startApp(run: Run, name: string, env: NodeJS.ProcessEnv): Child {
  const child = startChild({
    name,
    command: process.execPath,
    args: [...SERVICE_NODE_FLAGS, appEntry(name)],
    env,
    cwd: REPO_ROOT,
    onLine: (line) => {
      for (const rendered of renderLogLine(line, run.terminal.paint)) run.terminal.print(name, rendered);
    },
  });
  supervise(run, child);
  return child;
}

/** A process that exits before bank-cli asked it to takes the whole stack down, loudly. */
function supervise(run: Run, child: Child): void {
  run.children.push(child);
  void child.exited.then((exit) => {
    if (run.stopping.aborted) return;
    const hint = exit.code === EXIT_CONFIG ? ' (its configuration was refused; see its output above)' : '';
    run.terminal.say(run.terminal.paint(ERROR_COLOUR, `${child.name} ${describeExit(exit)} unexpectedly${hint}; stopping the bank`));
    run.requestStop({ kind: 'child-exit', name: child.name, exit });
  });
}

/** Stops processes in parallel, each bounded; says which ones had to be killed or ended badly. */
async function stopChildren(run: Run, children: readonly Child[], graceMs = CHILD_STOP_TIMEOUT_MS): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.hasExited) return;
      const exit = await child.stop(graceMs);
      if (exit.signal === 'SIGKILL') run.terminal.say(`${child.name} did not stop within ${graceMs / 1000} s and was killed`);
      else if (exit.code !== 0 && exit.code !== null) run.terminal.say(`${child.name} ${describeExit(exit)} while stopping`);
    }),
  );
}
