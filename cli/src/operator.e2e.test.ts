import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { newId } from '@bank/kernel';
import { BeeQueuePublisher, DependencyHealth, checkHealth, dropQueueNamespace } from '@bank/platform';
import { captureLogger, createTestDatabase, freePort, TEST_REDIS_URL, testQueuePrefix, waitFor, TEST_TLS_DIR, testIdentity } from '@bank/testkit';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'cli', 'dist', 'main.js');
const run = promisify(execFile);


async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
}

describe('bank-cli verify and dead-letters against a running transaction-service', () => {
  let db: { url: string; drop: () => Promise<void> };
  let service: ChildProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('cli_operator');
    const port = await freePort();
    const prefix = testQueuePrefix('cli');
    env = { BANK_TLS_DIR: TEST_TLS_DIR, LEDGER_DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, REDIS_QUEUE_PREFIX: prefix, LEDGER_GRPC_ADDR: `127.0.0.1:${port}` };
    service = spawn(process.execPath, [path.join(ROOT, 'apps', 'transaction-service', 'dist', 'main.js')], {
      env: { PATH: process.env.PATH ?? '', ...env, LEDGER_GRPC_ADDR: '', LEDGER_GRPC_PORT: String(port), LEDGER_METRICS_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    await waitFor(() => checkHealth(`127.0.0.1:${port}`, testIdentity('bank-cli'), 500), 30_000, 100);
  });

  afterAll(async () => {
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
    await db.drop();
  });

  it('verify says the invariants hold, and exits 1 naming the violation once the ledger is tampered with', async () => {
    const good = await cli(['verify'], env);
    expect(good.code).toBe(0);
    expect(good.out).toContain('the bank is consistent');
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      await pg.query("UPDATE ledger_accounts SET credits_posted = credits_posted + 7 WHERE kind = 'fees' AND currency = 'USD'");
      const bad = await cli(['verify'], env);
      expect(bad.code).toBe(1);
      expect(bad.out).toContain('VIOLATION debits_equal_credits: USD');
      expect(bad.out).toContain('VIOLATION balance_equals_entries');
      await pg.query("UPDATE ledger_accounts SET credits_posted = credits_posted - 7 WHERE kind = 'fees' AND currency = 'USD'");
    } finally {
      await pg.end();
    }
  });

  it('dead-letters lists a dead event and requeue delivers it to the consumer', async () => {
    const accountId = newId();
    const envelope = { id: newId(), type: 'account.opened', aggregateId: accountId, sequence: 1, occurredAt: new Date().toISOString(), traceparent: '', payload: { accountId, ownerId: newId(), currency: 'GBP' } };
    const letterId = newId();
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      await pg.query("INSERT INTO dead_letter (id, consumer, event_id, event, error, attempts) VALUES ($1, 'transaction-service', $2, $3, 'Error: boom', 6)", [letterId, envelope.id, JSON.stringify(envelope)]);
      const list = await cli(['dead-letters', 'list', '--service', 'transaction-service'], env);
      expect(list.code).toBe(0);
      expect(list.out).toContain(`${letterId}`);
      expect(list.out).toContain('account.opened');
      expect(list.out).toContain('1 dead letter(s)');
      const requeued = await cli(['dead-letters', 'requeue', letterId, '--service', 'transaction-service'], env);
      expect(requeued.code).toBe(0);
      await waitFor(async () => ((await pg.query('SELECT 1 FROM ledger_accounts WHERE id = $1', [accountId])).rowCount === 1 ? true : undefined), 15_000);
      expect((await cli(['dead-letters', 'list', '--service', 'transaction-service'], env)).out).toContain('0 dead letter(s)');
      expect((await cli(['dead-letters', 'requeue', letterId, '--service', 'transaction-service'], env)).code).toBe(1);
    } finally {
      await pg.end();
    }
  }, 20_000);

  it('queues shows the backlog of every consumer queue', async () => {
    const conn = { redisUrl: TEST_REDIS_URL, prefix: env.REDIS_QUEUE_PREFIX as string };
    const publisher = new BeeQueuePublisher(conn, new DependencyHealth('redis', captureLogger().logger));
    try {
      const stray = () => {
        const accountId = newId();
        return { id: newId(), type: 'account.opened' as const, aggregateId: accountId, sequence: 1, occurredAt: new Date().toISOString(), traceparent: '', payload: { accountId, ownerId: newId(), currency: 'USD' } };
      };
      // Put there by hand (the relays never would): two jobs on a queue without a consumer.
      await publisher.publish('notification-service', [stray(), stray()]);
      const res = await cli(['queues'], env);
      expect(res.code).toBe(0);
      const line = (consumer: string) => res.out.split('\n').find((l) => l.startsWith(consumer)) ?? '';
      expect(line('notification-service')).toMatch(/^notification-service +waiting 2 +active 0/);
      expect(line('transaction-service')).toMatch(/waiting 0 +active 0 +delayed 0 +failed 0$/);
      expect(line('user-service')).toContain('waiting 0');
    } finally {
      await publisher.close();
      await dropQueueNamespace(conn);
    }
  });
});

describe('bank-cli certs issue', () => {
  it("makes every workload's identity, and says so as JSON", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-certs-'));
    try {
      const r = await cli(['--json', 'certs', 'issue', '--dir', dir], {});
      expect(r.code).toBe(0);
      const body = JSON.parse(r.out) as { dir: string; workloads: string[] };
      expect(body.dir).toBe(dir);
      for (const w of body.workloads) expect(existsSync(path.join(dir, `${w}.crt`))).toBe(true);
      expect(body.workloads).toContain('bank-cli');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bank-cli migrate and audit on a database of their own', () => {
  let db: { url: string; drop: () => Promise<void> };
  let env: Record<string, string>;
  const json = async (args: string[]) => {
    const r = await cli(['--json', ...args], env);
    return { code: r.code, body: JSON.parse(r.out.split('\n').find((l) => l.startsWith('{')) ?? 'null') as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await createTestDatabase('cli_migrate');
    env = { BANK_TLS_DIR: TEST_TLS_DIR, PAYMENT_DATABASE_URL: db.url };
  });

  afterAll(async () => {
    await db.drop();
  });

  it('applies, reports and reverts one step at a time, asks before reverting, and records who did it', async () => {
    type Report = { service: string; changed: string[]; applied: string[]; pending: string[] };
    const first = await json(['migrate', 'status', '--service', 'payment']);
    expect(first.code).toBe(0);
    const fresh = (first.body.services as Report[])[0]!;
    expect(fresh.applied).toEqual([]);
    expect(fresh.pending).toContain('0001_payments_schema');

    const up = await json(['--reason', 'first install', 'migrate', 'up', '--service', 'payment']);
    expect(up.code).toBe(0);
    const applied = (up.body.services as Report[])[0]!;
    expect([applied.changed, applied.pending]).toEqual([fresh.pending, []]);

    // Not at a terminal, down needs --yes: bad usage, and nothing reverted.
    expect((await cli(['migrate', 'down', '--service', 'payment'], env)).code).toBe(2);
    expect(((await json(['migrate', 'status', '--service', 'payment'])).body.services as Report[])[0]!.pending).toEqual([]);
    const down = await json(['migrate', 'down', '--service', 'payment', '--yes']);
    expect(down.code).toBe(0);
    const reverted = (down.body.services as Report[])[0]!;
    // One step: the newest migration only (its index goes, the tables stay).
    expect([reverted.changed, reverted.pending]).toEqual([['0002_payments_parked_index'], ['0002_payments_parked_index']]);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      expect((await pg.query("SELECT to_regclass('payments_parked') AS t")).rows[0].t).toBeNull();
      expect((await pg.query("SELECT to_regclass('payments') AS t")).rows[0].t).toBe('payments');
    } finally {
      await pg.end();
    }
    expect((await json(['migrate', 'up', '--all'])).code).toBe(78);

    const audit = await json(['audit', 'list']);
    expect(audit.code).toBe(0);
    const entries = audit.body.entries as { service: string; command: string; reason: string; ok: boolean; arguments: Record<string, unknown>; osUser: string }[];
    expect(entries.map((e) => [e.service, e.command, e.reason, e.ok, e.arguments])).toEqual([
      ['payment-service', 'migrate up', 'first install', true, { service: 'payment-service' }],
      ['payment-service', 'migrate down', '', true, { service: 'payment-service', steps: 1 }],
    ]);
    expect(entries[0]!.osUser.length).toBeGreaterThan(0);
    expect(audit.body.unreachable).toEqual(['auth-service', 'user-service', 'transaction-service', 'notification-service']);
  }, 60_000);
});
