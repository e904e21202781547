import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { checkHealth, loadIdentity } from '@bank/platform';
import { BANK_VARIABLE, freePorts, isListening, processesWithEnv, startStack, TEST_REDIS_URL, testQueuePrefix, waitFor, type RunningStack, testIdentity } from '@bank/testkit';

// A newcomer's first ten minutes, as they happen on a fresh machine: a checkout inside a folder
// only its owner can enter (mktemp -d, /root), `npx bank-cli` with nothing built yet, a `.env`,
// `bank-cli up` on the embedded PostgreSQL (as root, PostgreSQL's unprivileged user cannot reach
// the checkout), the README's walkthrough run as written, and a second start on the same data.
// The checkout is this repository's files, hard-linked (copied across file systems) into the
// folder, so that the binaries and the data really sit behind it.

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const execFileAsync = promisify(execFile);
/** initdb, migrations on fresh databases and six process starts. */
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 45_000;
const COMMAND_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 2_000;
/** Everything at the repository root but these goes into the checkout. */
const LEFT_OUT = new Set(['.git', '.data', '.env', '.bench', 'coverage']);
/** Copied rather than linked: the test deletes its build. */
const COPIED = new Set(['cli']);
const WALKTHROUGH = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/;
/** Marks every process of this run, so that none can outlive it (no bank prefix: the typo guard would refuse it). */
const RUN_MARKER = 'NEWCOMER_TEST_RUN';

function copyTree(entry: string, into: string, link: boolean): void {
  const from = path.join(REPO_ROOT, entry);
  if (!existsSync(from)) return;
  const linked = link && spawnSync('cp', ['-al', from, into], { stdio: 'ignore' }).status === 0;
  if (!linked) {
    const copied = spawnSync('cp', ['-a', from, into], { stdio: 'pipe', encoding: 'utf8' });
    if (copied.status !== 0) throw new Error(`cp -a ${from}: ${copied.stderr}`);
  }
}

describe('a newcomer on a fresh machine (real processes)', () => {
  const runId = randomUUID();
  const marker = `${RUN_MARKER}=${runId}`;
  let home: string;
  let checkout: string;
  let baseEnv: NodeJS.ProcessEnv;
  let stack: RunningStack | undefined;

  const run = (command: string, args: readonly string[], env: NodeJS.ProcessEnv = baseEnv) =>
    execFileAsync(command, [...args], { cwd: checkout, env, timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
    );

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'bank-newcomer-'));
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    checkout = path.join(home, 'banking-microservices');
    spawnSync('mkdir', [checkout]);
    for (const entry of await readdir(REPO_ROOT)) if (!LEFT_OUT.has(entry)) copyTree(entry, checkout, !COPIED.has(entry));
    baseEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !BANK_VARIABLE.test(name))), [RUN_MARKER]: runId };
  }, COMMAND_TIMEOUT_MS);

  afterAll(async () => {
    stack?.process.kill('SIGKILL');
    for (const pid of await processesWithEnv(marker)) process.kill(pid, 'SIGKILL');
    if (checkout !== undefined) {
      // A root-run stack keeps its cluster outside the checkout; it goes with the run.
      const location = await readFile(path.join(checkout, '.data', 'postgres-location'), 'utf8').catch(() => '');
      if (location.trim() !== '') await rm(location.trim(), { recursive: true, force: true });
    }
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  });

  test('`npx bank-cli --help` works with nothing built: the committed bin builds the CLI and lists the commands', async () => {
    await rm(path.join(checkout, 'cli', 'dist'), { recursive: true, force: true });
    const help = await run('npx', ['bank-cli', '--help']);
    expect({ code: help.code, stderr: help.code === 0 ? '' : help.stderr }).toEqual({ code: 0, stderr: '' });
    expect(help.stderr).toContain('bank-cli is not built yet: building it');
    for (const command of ['up', 'verify', 'dead-letters', 'roles']) expect(help.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    // Built once, it runs at once the next time.
    const again = await run('npx', ['bank-cli', '--version']);
    expect([again.code, again.stderr]).toEqual([0, '']);
  }, 2 * COMMAND_TIMEOUT_MS);

  test('an unknown bank variable in .env is refused by bank-cli and by a service run alone, naming the file and line', async () => {
    const envFile = path.join(checkout, '.env');
    await writeFile(envFile, '# a typo on line 3\nLOG_LEVEL=warn\nLEDGER_DATABSE_URL=postgres://127.0.0.1/x\n');
    try {
      const cli = await run(process.execPath, ['cli/dist/main.js', 'verify']);
      expect(cli.code).toBe(78);
      expect(cli.stderr).toContain(`LEDGER_DATABSE_URL: unknown variable (not read by any bank service; a typo?) in ${envFile} line 3`);
      const service = await run(process.execPath, ['apps/transaction-service/dist/main.js'], { ...baseEnv, LEDGER_DATABASE_URL: 'postgres://127.0.0.1:1/none' });
      expect(service.code).toBe(78);
      expect(service.stderr).toContain(`LEDGER_DATABSE_URL: unknown variable (not read by any bank service; a typo?) in ${envFile} line 3`);
    } finally {
      await rm(envFile, { force: true });
    }
  });

  test(
    'bank-cli up from a folder only its owner can enter, with a .env, runs the README walkthrough and keeps the users across a restart',
    async () => {
      const [authPort, userPort, ledgerPort, paymentPort, notificationPort, fileGatewayPort, envGatewayPort, smtpPort, webPort] = await freePorts(9);
      // .env sets the auth port (and the address bank-cli calls it at) and a gateway port, which the environment overrides.
      await writeFile(
        path.join(checkout, '.env'),
        [
          '# written by newcomer.e2e.test.ts',
          'LOG_LEVEL=warn',
          'AUTH_BCRYPT_COST=4',
          `AUTH_GRPC_PORT=${authPort}`,
          `AUTH_GRPC_ADDR=127.0.0.1:${authPort}`,
          `GATEWAY_PORT=${fileGatewayPort}`,
          '',
        ].join('\n'),
      );
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        REDIS_URL: TEST_REDIS_URL,
        REDIS_QUEUE_PREFIX: testQueuePrefix('newcomer'),
        GATEWAY_PORT: String(envGatewayPort),
        USER_GRPC_PORT: String(userPort),
        LEDGER_GRPC_PORT: String(ledgerPort),
        PAYMENT_GRPC_PORT: String(paymentPort),
        NOTIFICATION_GRPC_PORT: String(notificationPort),
        MAILDEV_SMTP_PORT: String(smtpPort),
        MAILDEV_WEB_PORT: String(webPort),
      };
      const cliEntry = path.join(checkout, 'cli', 'dist', 'main.js');

      const first = await startStack({ cliEntry, cwd: checkout, env, readyTimeoutMs: READY_TIMEOUT_MS });
      stack = first.stack;
      // The environment wins over .env; what only .env sets is applied.
      expect(first.gatewayUrl).toBe(`http://127.0.0.1:${envGatewayPort}`);
      expect(await isListening(fileGatewayPort!)).toBe(false);
      // Probed as the operator's tool, with the identity the stack made for it (the tests' own CA is a stranger to it).
      const operator = loadIdentity(path.join(checkout, '.data', 'tls'), 'bank-cli');
      expect(await checkHealth(`127.0.0.1:${authPort}`, operator, PROBE_TIMEOUT_MS)).toBe(true);
      expect(await checkHealth(`127.0.0.1:${authPort}`, testIdentity('bank-cli'), PROBE_TIMEOUT_MS)).toBe(false);
      expect(stack.output()).toContain('6/6 ready');
      if (process.getuid?.() === 0) {
        // As root, PostgreSQL's user cannot reach the checkout: binaries and data moved, and it says where.
        expect(stack.output()).toMatch(/the user `postgres` that PostgreSQL runs as cannot reach .*, so it runs from \S+ with its data in \S+/);
      }

      // Each service runs as its own PostgreSQL role: user-service's cannot even connect to auth's
      // database (whose signing keys it must never read), and its password is its owner's only.
      const pgPort = /embedded PostgreSQL on 127\.0\.0\.1:(\d+)/.exec(stack.output())?.[1];
      const userRolePasswordFile = path.join(checkout, '.data', 'postgres-roles', 'bank_user');
      expect((await stat(userRolePasswordFile)).mode & 0o777).toBe(0o600);
      const userRole = new Client({ host: '127.0.0.1', port: Number(pgPort), user: 'bank_user', password: (await readFile(userRolePasswordFile, 'utf8')).trim(), database: 'bank_auth' });
      await expect(userRole.connect()).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('permission denied for database') });
      await userRole.end().catch(() => undefined);

      const readme = await readFile(path.join(checkout, 'README.md'), 'utf8');
      const script = WALKTHROUGH.exec(readme)?.[1];
      expect(script).toBeDefined();
      const walk = await run('bash', ['-euo', 'pipefail', '-c', script!], { ...env, BANK: first.gatewayUrl });
      expect({ code: walk.code, stderr: walk.code === 0 ? '' : `${walk.stderr}\n${walk.stdout}` }).toEqual({ code: 0, stderr: '' });
      const replies = walk.stdout;
      expect(replies).toMatch(/"email":"alice@example\.com"/);
      expect(replies).toMatch(/"email":"bob@example\.com"/);
      expect(replies).toMatch(/"fullName":"Alice Example",.*"roles":\["customer","operator"\]/);
      expect(replies).toMatch(/"currency":"USD","status":"active","balance":\{"posted":0,"pending":0,"available":0\}/);
      // The deposit, the first payment (seen by Bob), Alice's statement and Bob's balance after it.
      expect(replies).toMatch(/"amount":10000,"currency":"USD","status":"completed"/);
      expect(replies).toMatch(/"amount":2550,"currency":"USD","description":"lunch","status":"completed","failureCode":null/);
      expect(replies).toMatch(/"direction":"debit","amount":2550,.*"balanceAfter":7450/);
      expect(replies).toMatch(/"balance":\{"posted":2550,"pending":0,"available":2550\}/);
      // The payment's two emails, one to each party, in MailDev's inbox (its REST API).
      const inbox = await waitFor(async () => {
        const mails = (await (await fetch(`http://127.0.0.1:${webPort}/api/email`)).json()) as { subject: string; to: { address: string }[] }[];
        const subjects = mails.map((m) => `${m.to.map((t) => t.address).join(',')}: ${m.subject}`);
        return subjects.includes('alice@example.com: You sent $25.50') && subjects.includes('bob@example.com: You received $25.50') ? subjects : undefined;
      }, 30_000, 250);
      expect(inbox.filter((s) => s.includes('$25.50'))).toHaveLength(2);

      const firstExit = await stack.stop(STOP_TIMEOUT_MS);
      expect({ exit: firstExit, output: firstExit === 'timeout' || firstExit.code !== 0 ? stack.output() : '' }).toEqual({ exit: { code: 0, signal: null }, output: '' });

      // A second start finds the same cluster: Alice can log in and still has her account.
      const second = await startStack({ cliEntry, cwd: checkout, env, readyTimeoutMs: READY_TIMEOUT_MS });
      stack = second.stack;
      expect(stack.output()).not.toContain('first run: creating a new cluster');
      const login = await fetch(`${second.gatewayUrl}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'alice@example.com', password: 'alice-walkthrough-pw' }),
      });
      expect(login.status).toBe(200);
      const { accessToken } = (await login.json()) as { accessToken: string };
      const accounts = (await (await fetch(`${second.gatewayUrl}/v1/accounts`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as { data: { currency: string }[] };
      expect(accounts.data.map((a) => a.currency)).toEqual(['USD']);
      const secondExit = await stack.stop(STOP_TIMEOUT_MS);
      expect(secondExit).toEqual({ code: 0, signal: null });
      expect(await processesWithEnv(marker)).toEqual([]);
    },
    2 * READY_TIMEOUT_MS + 2 * STOP_TIMEOUT_MS + 2 * COMMAND_TIMEOUT_MS,
  );
});
