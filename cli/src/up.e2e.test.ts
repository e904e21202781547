import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkHealth, loadIdentity } from '@bank/platform';
import { BANK_VARIABLE, createTestDatabase, freePorts, httpStatus, isListening, processesWithEnv, startStack, TEST_REDIS_URL, testQueuePrefix, type RunningStack } from '@bank/testkit';

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
const PREFIXES = ['AUTH', 'USER', 'LEDGER', 'PAYMENT', 'NOTIFICATION'] as const;

describe('bank-cli up (real processes)', () => {
  const databases: { url: string; drop: () => Promise<void> }[] = [];
  let dataDir: string;
  let stack: RunningStack | undefined;

  beforeAll(async () => {
    expect(existsSync(CLI_ENTRY)).toBe(true);
    for (const prefix of PREFIXES) databases.push(await createTestDatabase(`cli_up_${prefix}`));
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'bank-cli-up-'));
  });

  afterAll(async () => {
    // Whatever went wrong above, nothing of this run may outlive it.
    stack?.process.kill('SIGKILL');
    if (dataDir !== undefined) {
      for (const pid of await processesWithEnv(`BANK_DATA_DIR=${dataDir}`)) process.kill(pid, 'SIGKILL');
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

      const started = await startStack({ cliEntry: CLI_ENTRY, cwd: REPO_ROOT, env, readyTimeoutMs: READY_TIMEOUT_MS });
      stack = started.stack;
      const { gatewayUrl } = started;

      expect(gatewayUrl).toBe(`http://${LOOPBACK}:${gatewayPort}`);
      expect(await httpStatus(`${gatewayUrl}/readyz`)).toBe(200);
      for (const [prefix, port] of Object.entries(grpcPorts)) {
        expect([prefix, await checkHealth(`${LOOPBACK}:${port}`, loadIdentity(path.join(dataDir, 'tls'), 'bank-cli'), PROBE_TIMEOUT_MS)]).toEqual([prefix, true]);
      }
      // MailDev 3 serves its REST API under /api/email.
      expect(await httpStatus(`http://${LOOPBACK}:${webPort}/api/email`)).toBe(200);
      expect(stack.output()).toContain(`mail inbox  http://${LOOPBACK}:${webPort}`);
      // After the URLs, a pointer to the tested walkthrough.
      expect(stack.output()).toMatch(/first steps: README\.md, "First payment: a walkthrough"/);
      // Each workload's key is kept for the next run, readable by its owner only; no shared secret is made.
      for (const workload of ['api-gateway', 'auth-service', 'bank-cli']) expect((await stat(path.join(dataDir, 'tls', `${workload}.key`))).mode & 0o777).toBe(0o600);
      expect(existsSync(path.join(dataDir, 'service-token'))).toBe(false);

      const exit = await stack.stop(STOP_TIMEOUT_MS);
      expect({ exit, output: exit === 'timeout' || exit.code !== 0 ? stack.output() : '' }).toEqual({ exit: { code: 0, signal: null }, output: '' });

      const allPorts = [...Object.values(grpcPorts), gatewayPort!, smtpPort!, webPort!];
      const stillListening = (await Promise.all(allPorts.map(async (port) => ((await isListening(port)) ? port : undefined)))).filter((p) => p !== undefined);
      expect(stillListening).toEqual([]);
      expect(await processesWithEnv(`BANK_DATA_DIR=${dataDir}`)).toEqual([]);
    },
    READY_TIMEOUT_MS + STOP_TIMEOUT_MS + 30_000,
  );
});
