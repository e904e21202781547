import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { checkHealth } from '@bank/platform';
import { createTestDatabase, TEST_REDIS_URL, testQueuePrefix } from '@bank/testkit';

// Runs the real `bank-cli up` as a process against the PostgreSQL and Redis the integration tests
// use, on ports of its own, and stops it the way a person does: with SIGINT. Needs the build
// output (`npx tsc -b`), as `npm test` makes it.

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const CLI_ENTRY = path.join(REPO_ROOT, 'cli', 'dist', 'main.js');
/** Migrations on fresh databases plus six process starts; seconds normally. */
const READY_TIMEOUT_MS = 90_000;
/** A clean stop takes about a second; the bound allows for a slow machine, not for a hang. */
const STOP_TIMEOUT_MS = 45_000;
const PROBE_TIMEOUT_MS = 2_000;
const LOOPBACK = '127.0.0.1';
/** The defaults `npm start` takes, which a developer's running stack may hold. */
const DEFAULT_PORTS = new Set([50051, 50052, 50053, 50054, 50055, 8080, 1025, 1080, 54329, 63799]);
const PREFIXES = ['AUTH', 'USER', 'LEDGER', 'PAYMENT', 'NOTIFICATION'] as const;
/** Variables of the bank that the environment of the test run must not leak into the stack. */
const BANK_VARIABLE = /^(BANK|AUTH|USER|PAYMENT|LEDGER|TRANSACTION|NOTIFICATION|GATEWAY|DATABASE|REDIS|SMTP|JWT|OUTBOX|SERVICE|MAIL|MAILDEV)_/;

/** Distinct free ports, none of them a default: all are held until every one is chosen. */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ host: LOOPBACK, port: 0, exclusive: true }, resolve));
      servers.push(server);
      const port = (server.address() as net.AddressInfo).port;
      if (!DEFAULT_PORTS.has(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose environment carries this run's data directory: the stack and every child of it. */
async function processesOfRun(dataDir: string): Promise<number[]> {
  if (!existsSync('/proc')) return [];
  const marker = `BANK_DATA_DIR=${dataDir}`;
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'latin1');
      if (environ.split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/** The status of a GET; the connection is closed afterwards so no socket outlives the test. */
function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.once('error', reject);
  });
}

describe('bank-cli up (real processes)', () => {
  const databases: { url: string; drop: () => Promise<void> }[] = [];
  let dataDir: string;
  let cli: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    expect(existsSync(CLI_ENTRY)).toBe(true);
    for (const prefix of PREFIXES) databases.push(await createTestDatabase(`cli_up_${prefix}`));
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'bank-cli-up-'));
  });

  afterAll(async () => {
    // Whatever went wrong above, nothing of this run may outlive it.
    if (cli !== undefined && cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
    if (dataDir !== undefined) {
      for (const pid of await processesOfRun(dataDir)) process.kill(pid, 'SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
    await Promise.all(databases.map((db) => db.drop()));
  });

  test(
    'starts every service and the gateway, reports them ready, and stops them all on SIGINT',
    async () => {
      const [auth, user, ledger, payment, notification, gatewayPort, smtpPort, webPort] = await freePorts(8);
      const grpcPorts = { AUTH: auth!, USER: user!, LEDGER: ledger!, PAYMENT: payment!, NOTIFICATION: notification! };
      const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !BANK_VARIABLE.test(name)));
      Object.assign(env, {
        BANK_DATA_DIR: dataDir,
        REDIS_URL: TEST_REDIS_URL,
        // Queues of their own, so that these services never take jobs of another suite's.
        REDIS_QUEUE_PREFIX: testQueuePrefix('cli_up'),
        GATEWAY_PORT: String(gatewayPort),
        MAILDEV_SMTP_PORT: String(smtpPort),
        MAILDEV_WEB_PORT: String(webPort),
        LOG_LEVEL: 'warn',
      });
      PREFIXES.forEach((prefix, i) => {
        env[`${prefix}_DATABASE_URL`] = databases[i]!.url;
        env[`${prefix}_GRPC_PORT`] = String(grpcPorts[prefix]);
      });

      const proc = spawn(process.execPath, [CLI_ENTRY, 'up'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      cli = proc;
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
      proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));

      // The gateway URL is printed once everything answered.
      const gatewayUrl = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no gateway URL within ${READY_TIMEOUT_MS} ms; output:\n${output}`)), READY_TIMEOUT_MS);
        const look = () => {
          const match = /^bank-cli\s+\|\s+gateway\s+(http:\/\/\S+)$/m.exec(output);
          if (match?.[1] !== undefined) {
            clearTimeout(timer);
            proc.stdout!.off('data', look);
            resolve(match[1]);
          }
        };
        proc.stdout!.on('data', look);
        void exited.then((e) => {
          clearTimeout(timer);
          reject(new Error(`bank-cli exited (${JSON.stringify(e)}) before it was ready; output:\n${output}`));
        });
      });

      expect(gatewayUrl).toBe(`http://${LOOPBACK}:${gatewayPort}`);
      expect(await httpStatus(`${gatewayUrl}/readyz`)).toBe(200);
      for (const [prefix, port] of Object.entries(grpcPorts)) {
        expect([prefix, await checkHealth(`${LOOPBACK}:${port}`, PROBE_TIMEOUT_MS)]).toEqual([prefix, true]);
      }
      // MailDev 3 serves its REST API under /api/email.
      expect(await httpStatus(`http://${LOOPBACK}:${webPort}/api/email`)).toBe(200);
      expect(output).toContain(`mail inbox  http://${LOOPBACK}:${webPort}`);
      // The generated credential is kept for the next run, readable by its owner only.
      expect((await stat(path.join(dataDir, 'service-token'))).mode & 0o777).toBe(0o600);

      proc.kill('SIGINT');
      let stopTimer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([exited, new Promise<'timeout'>((resolve) => (stopTimer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)))]);
      clearTimeout(stopTimer);
      expect({ exit, output: exit === 'timeout' || exit.code !== 0 ? output : '' }).toEqual({ exit: { code: 0, signal: null }, output: '' });

      const allPorts = [...Object.values(grpcPorts), gatewayPort!, smtpPort!, webPort!];
      const stillListening = (await Promise.all(allPorts.map(async (port) => ((await isListening(port)) ? port : undefined)))).filter((p) => p !== undefined);
      expect(stillListening).toEqual([]);
      expect(await processesOfRun(dataDir)).toEqual([]);
    },
    READY_TIMEOUT_MS + STOP_TIMEOUT_MS + 30_000,
  );
});
