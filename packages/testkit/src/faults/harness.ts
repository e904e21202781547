import { spawnSync } from 'node:child_process';
import { CONSUMERS, isWakeUpFor, typesConsumedBy } from '@bank/contracts';
import { signInOperator, startTestBank, type BankService, type TestBank } from '../bank';
import { querySql, waitFor } from '../infra';
import { blockDatabase, startTestRedis, type TestRedis } from '../outage';
import { startTestSmtp } from '../smtp';
import { startFaultProxy, type FaultProxy } from './proxy';
import { makeCustomer, nextOperation, perform, prng, type Customer, type Operation } from './workload';

// A Jepsen-style bank test across the running services: a seeded workload through the gateway
// while a seeded schedule of faults breaks things, then, once everything is healed and quiet,
// the checks of the central promise. A seed replays the same operations and the same schedule.

export const SCENARIOS = ['kill-each', 'pause-ledger', 'redis-down', 'db-unreachable', 'postgres-restart', 'partition-payment-ledger', 'duplicate-delivery', 'gateway-kill'] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** CI's short form: a crash of every service, Redis away, a consumer's database away. */
export const SHORT_SCENARIOS: readonly Scenario[] = ['kill-each', 'redis-down', 'db-unreachable'];

export interface RunOptions {
  readonly seed: number;
  readonly scenarios: readonly Scenario[];
  /** How long an outage lasts (Redis, a database, the paused ledger, each phase of the partition). */
  readonly outageMs: number;
  readonly users: number;
  readonly accountsPerUser: number;
  readonly clients: number;
  /**
   * A deliberate bug, to prove the checks can fail: 'double-apply' applies one consumed event's
   * effect a second time behind the bank's back (a consumer that skipped its inbox check).
   */
  readonly sabotage?: 'double-apply';
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface RunResult {
  readonly seed: number;
  readonly scenarios: readonly Scenario[];
  readonly operations: { total: number; ok: number; failed: number; indeterminate: number; resolved: number };
  readonly faults: string[];
  readonly checks: Check[];
  readonly passed: boolean;
  readonly elapsedMs: number;
  /** Where the time went: the bank and its customers made, the load under faults, resolving, quiescing and checking. */
  readonly phasesMs: { setup: number; load: number; resolve: number; quiesce: number; checks: number };
}

/** After the last fault heals, the load goes on this long before it stops. */
const TAIL_MS = 3_000;
/** A service SIGKILLed stays down this long before it is started again. */
const KILL_DOWN_MS = 1_500;
/** How long the bank may take to settle after the load: sagas ended, outboxes and queues drained, emails sent. */
const QUIESCE_TIMEOUT_MS = 120_000;
const QUIESCE_POLL_MS = 500;
/** Attempts per indeterminate operation when it is resolved after the faults healed. */
const RESOLVE_ATTEMPTS = 12;
const PARTITION_LATENCY_MS = 5_000;
/** transaction-service is paused at most this long (the 20 s), however long other outages last. */
const PAUSE_MS = 20_000;
const CURRENCY = 'USD';
const MAIL_PER_SECOND = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


/** The SMTP server the bank's emails go to: Message-IDs counted, so a duplicate shows. */
async function startMailSink(): Promise<{ url: string; messageIds: Map<string, number>; close(): Promise<void> }> {
  const messageIds = new Map<string, number>();
  const smtp = await startTestSmtp({
    onData(stream, _session, callback) {
      let text = '';
      stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
      stream.on('end', () => {
        const id = /^message-id:\s*(\S+)/im.exec(text)?.[1] ?? `(none ${messageIds.size})`;
        messageIds.set(id, (messageIds.get(id) ?? 0) + 1);
        callback();
      });
    },
  });
  return { url: smtp.url, messageIds, close: smtp.close };
}

interface World {
  readonly bank: TestBank;
  readonly redis: TestRedis;
  readonly ledgerProxy: FaultProxy;
  readonly next: () => number;
  readonly faults: string[];
  readonly opts: RunOptions;
}

/** Each scenario injects its faults and heals them before it returns. */
const INJECT: Record<Scenario, (w: World) => Promise<void>> = {
  'kill-each': async (w) => {
    const order: BankService[] = ['ledger', 'payment', 'user', 'auth', 'notification'].sort(() => w.next() - 0.5) as BankService[];
    for (const s of order) {
      await w.bank.signal(s, 'SIGKILL');
      w.faults.push(`SIGKILL ${s}`);
      await sleep(KILL_DOWN_MS);
      await w.bank.restart(s);
      await sleep(500 + w.next() * 1_500);
    }
  },
  'pause-ledger': async (w) => {
    await w.bank.signal('ledger', 'SIGSTOP');
    const ms = Math.min(w.opts.outageMs, PAUSE_MS);
    w.faults.push(`SIGSTOP transaction-service ${ms} ms`);
    await sleep(ms);
    await w.bank.signal('ledger', 'SIGCONT');
  },
  'redis-down': async (w) => {
    await w.redis.stop();
    w.faults.push(`Redis down ${w.opts.outageMs} ms`);
    await sleep(w.opts.outageMs);
    await w.redis.start();
  },
  'db-unreachable': async (w) => {
    const service = (['notification', 'user', 'ledger', 'payment'] as const)[Math.floor(w.next() * 4)] as BankService;
    const unblock = await blockDatabase(w.bank.databases[service]);
    w.faults.push(`${service}'s database unreachable ${w.opts.outageMs} ms`);
    try {
      await sleep(w.opts.outageMs);
    } finally {
      await unblock();
    }
  },
  'postgres-restart': async (w) => {
    const clusters = spawnSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
    const line = clusters.status === 0 ? clusters.stdout.split('\n').find((l) => /\s5432\s+online/.test(l)) : undefined;
    if (!line) {
      w.faults.push('PostgreSQL restart NOT RUN: no Debian cluster on 5432 to restart');
      return;
    }
    const [version, name] = line.trim().split(/\s+/);
    const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version as string, name as string, 'restart', '-m', 'fast'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`pg_ctlcluster restart failed: ${r.stderr}`);
    w.faults.push(`PostgreSQL ${version}/${name} restarted (-m fast)`);
  },
  'partition-payment-ledger': async (w) => {
    w.ledgerProxy.set({ kind: 'latency', ms: PARTITION_LATENCY_MS });
    w.faults.push(`payment-service → transaction-service: ${PARTITION_LATENCY_MS} ms latency for ${w.opts.outageMs} ms, then a blackhole for as long`);
    await sleep(w.opts.outageMs);
    w.ledgerProxy.set({ kind: 'blackhole' });
    await sleep(w.opts.outageMs);
    // The blackholed connections are cut, as a partition's end finds them: clients reconnect.
    w.ledgerProxy.set({ kind: 'reset' });
    w.ledgerProxy.set({ kind: 'pass' });
  },
  'duplicate-delivery': async (w) => {
    // Every event written so far, published to its consumers again by bank-cli's replay.
    const since = new Date(Date.now() - 10 * 60_000).toISOString();
    for (const service of ['payment', 'user', 'transaction'] as const) {
      const r = await w.bank.cli<{ replayed?: { deliveries: number }[] }>('outbox', 'replay', '--service', service, '--since', since, '--limit', '1000');
      if (r.code !== 0) throw new Error(`outbox replay of ${service} exited ${r.code}: ${r.stderr}`);
      w.faults.push(`duplicate delivery: ${service}'s outbox replayed (${(r.body.replayed ?? []).reduce((n, x) => n + x.deliveries, 0)} deliveries)`);
    }
  },
  'gateway-kill': async (w) => {
    await w.bank.signal('gateway', 'SIGKILL');
    w.faults.push('SIGKILL api-gateway with requests in flight');
    await sleep(KILL_DOWN_MS);
    await w.bank.restart('gateway');
  },
};

/** The money a double-applied event would make: one deposit's credit again, straight in the ledger. */
async function doubleApply(bank: TestBank, faults: string[]): Promise<void> {
  const [t] = await querySql<{ credit_account_id: string; amount: string }>(bank.databases.ledger, "SELECT credit_account_id, amount::text AS amount FROM transfers WHERE reference LIKE 'deposit:%' LIMIT 1");
  if (!t) return;
  await querySql(bank.databases.ledger, 'UPDATE ledger_accounts SET credits_posted = credits_posted + $2 WHERE id = $1', [t.credit_account_id, t.amount]);
  faults.push(`SABOTAGE: a deposit's credit applied twice to ${t.credit_account_id}`);
}

async function quiesce(bank: TestBank): Promise<string> {
  const dbs = Object.values(bank.databases);
  let last = '';
  try {
    await waitFor(async () => {
      const [pending] = await querySql<{ n: number }>(bank.databases.payment, "SELECT (SELECT count(*) FROM payments WHERE status = 'pending')::int + (SELECT count(*) FROM deposits WHERE status = 'pending')::int AS n");
      let unpublished = 0;
      for (const url of dbs) unpublished += (await querySql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))[0]?.n ?? 0;
      const [mail] = await querySql<{ n: number }>(bank.databases.notification, "SELECT count(*)::int AS n FROM deliveries WHERE status IN ('queued', 'sending')");
      const queues = (await bank.cli<{ queues: { waiting: number; active: number; delayed: number }[] }>('queues')).body.queues ?? [];
      const queued = queues.reduce((n, q) => n + q.waiting + q.active + q.delayed, 0);
      last = `pending sagas/deposits ${pending?.n}, unpublished events ${unpublished}, emails to send ${mail?.n}, queued jobs ${queued}`;
      return pending?.n === 0 && unpublished === 0 && mail?.n === 0 && queued === 0 ? true : undefined;
    }, QUIESCE_TIMEOUT_MS, QUIESCE_POLL_MS);
    return `quiet: ${last}`;
  } catch {
    return `NOT QUIET after ${QUIESCE_TIMEOUT_MS} ms: ${last}`;
  }
}

async function checks(bank: TestBank, ops: readonly Operation[], indeterminate: number, unresolved: number, mail: Map<string, number>, quiet: string, faults: readonly string[]): Promise<Check[]> {
  const out: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => out.push({ name, ok, detail });
  check('the bank quiesced', quiet.startsWith('quiet'), quiet);

  const [money] = await querySql<{ customers: string; settlement: string; negative: number }>(
    bank.databases.ledger,
    `SELECT COALESCE(sum(credits_posted - debits_posted) FILTER (WHERE kind = 'customer'), 0)::text AS customers,
            COALESCE(sum(debits_posted - credits_posted) FILTER (WHERE kind = 'settlement'), 0)::text AS settlement,
            (count(*) FILTER (WHERE kind = 'customer' AND (credits_posted - debits_posted < 0 OR credits_posted - debits_posted - debits_pending < 0)))::int AS negative
       FROM ledger_accounts WHERE currency = $1`,
    [CURRENCY],
  );
  const [deposits] = await querySql<{ total: string }>(bank.databases.payment, "SELECT COALESCE(sum(amount), 0)::text AS total FROM deposits WHERE status = 'completed' AND currency = $1", [CURRENCY]);
  check('money: customers hold exactly the deposits', money?.customers === deposits?.total && money?.settlement === deposits?.total, `customers ${money?.customers}, settlement out ${money?.settlement}, completed deposits ${deposits?.total} (${CURRENCY})`);
  check('no negative balance', money?.negative === 0, `${money?.negative} customer account(s) below zero`);

  check('every indeterminate operation resolved by its key', unresolved === 0, `${indeterminate} indeterminate after the load, ${unresolved} still without an answer`);

  const acknowledged = ops.filter((o) => o.kind === 'payment' && o.outcome === 'ok' && o.resourceId !== undefined).map((o) => o.resourceId as string);
  const stored = new Set((await querySql<{ id: string }>(bank.databases.payment, 'SELECT id FROM payments WHERE id = ANY($1::uuid[])', [acknowledged])).map((r) => r.id));
  check('every acknowledged payment exists', acknowledged.every((id) => stored.has(id)), `${acknowledged.length} acknowledged, ${acknowledged.filter((id) => !stored.has(id)).length} missing`);

  const [sagas] = await querySql<{ pending: number; parked: number; total: number }>(bank.databases.payment, "SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*) FILTER (WHERE step = 'needs_attention')::int AS parked, count(*)::int AS total FROM payments");
  check('every saga terminal or parked', (sagas?.pending ?? 1) - (sagas?.parked ?? 0) === 0, `${sagas?.total} sagas: ${sagas?.pending} pending, ${sagas?.parked} parked`);

  let unpublished = 0;
  const published = new Map<string, number>();
  for (const url of Object.values(bank.databases)) {
    unpublished += (await querySql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))[0]?.n ?? 0;
    // A batch row (the ledger's) carries many events, each [id, type, ...].
    const byType = await querySql<{ type: string; n: number }>(
      url,
      `SELECT type, count(*)::int AS n FROM outbox WHERE type <> 'batch' GROUP BY type
       UNION ALL SELECT e->>1 AS type, count(*)::int AS n FROM outbox, json_array_elements(payload) e WHERE type = 'batch' GROUP BY 1`,
    );
    for (const r of byType) published.set(r.type, (published.get(r.type) ?? 0) + r.n);
  }
  check('every outbox drained', unpublished === 0, `${unpublished} event(s) unpublished`);

  // Each consumer applied each event routed to it exactly once: its inbox holds one row per event
  // (its primary key), so fewer rows is an event lost; money and verify catch one applied twice.
  // Wake-ups leave no row (they only wake a saga, which the saga checks answer for).
  const perConsumer: string[] = [];
  let inboxOk = true;
  const dbOfConsumer: Record<string, string> = { 'user-service': bank.databases.user, 'transaction-service': bank.databases.ledger, 'payment-service': bank.databases.payment, 'notification-service': bank.databases.notification };
  for (const consumer of CONSUMERS) {
    const expected = typesConsumedBy(consumer)
      .filter((t) => !isWakeUpFor(consumer, t))
      .reduce((n, t) => n + (published.get(t) ?? 0), 0);
    const [got] = await querySql<{ n: number }>(dbOfConsumer[consumer] as string, 'SELECT count(*)::int AS n FROM inbox WHERE consumer = $1', [consumer]);
    if (got?.n !== expected) inboxOk = false;
    perConsumer.push(`${consumer} ${got?.n}/${expected}`);
  }
  check('each event applied once (inbox per consumer = events routed to it, wake-ups aside)', inboxOk, perConsumer.join(', '));

  const emails = await querySql<{ payments: number; wrong: number }>(
    bank.databases.notification,
    `WITH per AS (SELECT event_id, count(*) FILTER (WHERE status = 'sent' AND template = 'payment_sent') AS sent, count(*) FILTER (WHERE status = 'sent' AND template = 'payment_received') AS received
                    FROM deliveries WHERE template IN ('payment_sent', 'payment_received') GROUP BY event_id)
     SELECT count(*)::int AS payments, count(*) FILTER (WHERE sent <> 1 OR received <> 1)::int AS wrong FROM per`,
  );
  const [completed] = await querySql<{ n: number }>(bank.databases.payment, "SELECT count(*)::int AS n FROM payments WHERE status = 'completed'");
  const messageIds = (await querySql<{ message_id: string | null }>(bank.databases.notification, "SELECT message_id FROM deliveries WHERE status = 'sent'")).map((r) => r.message_id);
  const duplicates = [...mail.values()].filter((n) => n > 1).length;
  // SMTP has no idempotency: notification-service killed (or cut from its database) between the
  // server's acceptance and recording it sends that one message again, with the same Message-ID,
  // which receivers collapse. That is the only resend allowed, and only in a run with that fault.
  const senderHit = faults.some((f) => f === 'SIGKILL notification' || f.startsWith("notification's database"));
  const unseen = messageIds.filter((id) => id === null || !mail.has(id.startsWith('<') ? id : `<${id}>`) && !mail.has(id)).length;
  const e = emails[0];
  check(
    'one email per party per completed payment',
    e?.payments === completed?.n && e?.wrong === 0 && (duplicates === 0 || senderHit) && unseen === 0,
    `${completed?.n} completed payments, ${e?.payments} with emails, ${e?.wrong} without exactly one each; ${mail.size} distinct messages received, ${duplicates} of them again (same Message-ID${senderHit ? ', after the sender was hit' : ''}), ${unseen} sent but never received`,
  );

  const verify = await bank.cli<{ problems?: number; checks?: { name: string; violations: string[] }[] }>('verify');
  check('bank-cli verify clean', verify.code === 0 && verify.body.problems === 0, verify.code === 0 ? 'clean' : `exit ${verify.code}: ${(verify.body.checks ?? []).flatMap((c) => c.violations).slice(0, 3).join('; ')}`);
  check('no service exited by itself', bank.exits.length === 0, bank.exits.join('; ') || 'none');
  return out;
}

/** One seed: a bank of its own, the workload, the seed's fault schedule, the checks. */
export async function runFaultSeed(opts: RunOptions): Promise<RunResult> {
  const startedAt = Date.now();
  const next = prng(opts.seed);
  const faults: string[] = [];
  const redis = await startTestRedis();
  const mail = await startMailSink();
  let ledgerProxy: FaultProxy | undefined;
  let bank: TestBank | undefined;
  try {
    bank = await startTestBank({
      label: `faults_${opts.seed}`,
      redisUrl: redis.url,
      smtpUrl: mail.url,
      gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '100000', GATEWAY_RATE_LIMIT_PER_MIN: '1000000' },
      serviceEnv: async (addresses) => {
        const [host, port] = addresses.ledger.split(':');
        ledgerProxy = await startFaultProxy({ host: host as string, port: Number(port) });
        // The sink is local: no sender's limit to respect (Gmail's is the default).
        return { payment: { LEDGER_GRPC_ADDR: ledgerProxy.address }, notification: { SMTP_MAX_MESSAGES_PER_SECOND: String(MAIL_PER_SECOND) } };
      },
    });
    const b = bank;
    const operator = await signInOperator(b);
    const customers: Customer[] = [];
    for (let i = 0; i < opts.users; i++) customers.push(await makeCustomer(b.url, `s${opts.seed}u${i}-${Date.now().toString(36)}`, opts.accountsPerUser));
    // Every account starts with money, so that most payments find some.
    const ops: Operation[] = [];
    for (const c of customers) for (const a of c.accounts) ops.push(await perform(b.url, { kind: 'deposit', key: `seed-${a}`, token: operator, path: '/v1/admin/deposits', body: { accountId: a, amount: 100_000, currency: CURRENCY, reference: 'fault seed' }, outcome: 'indeterminate', status: 0 }, 20));

    const phasesMs = { setup: Date.now() - startedAt, load: 0, resolve: 0, quiesce: 0, checks: 0 };
    let mark = Date.now();
    const lap = (phase: keyof typeof phasesMs) => {
      phasesMs[phase] = Date.now() - mark;
      mark = Date.now();
    };
    let stopping = false;
    const clients = Array.from({ length: opts.clients }, async (_unused, client) => {
      const own = prng(opts.seed * 1_000 + client);
      const recent: string[] = [];
      for (let n = 0; !stopping; n++) {
        const op = await perform(b.url, nextOperation(own, customers, operator, client, n, recent));
        ops.push(op);
        if (op.kind === 'payment' && op.resourceId) recent.splice(0, recent.length >= 5 ? 1 : 0, op.resourceId);
      }
    });
    const world: World = { bank: b, redis, ledgerProxy: ledgerProxy as FaultProxy, next, faults, opts };
    await sleep(1_000 + next() * 2_000);
    for (const s of opts.scenarios) {
      await INJECT[s](world);
      await sleep(1_000 + next() * 2_000);
    }
    if (opts.sabotage === 'double-apply') await doubleApply(b, faults);
    await sleep(TAIL_MS);
    stopping = true;
    await Promise.all(clients);
    lap('load');

    // Healed: every operation without an answer is asked again with its key until it has one.
    let unresolved = 0;
    // A payment or deposit answers with the outcome its key already has; a cancel again is
    // answered by the payment's state (cancelled, or not cancellable); a read is simply read.
    // Only an answer about the operation itself resolves it: a success, or a refusal of the
    // request (a business code), never an authentication or validation failure of the client.
    let resolved = 0;
    const indeterminate = ops.filter((o) => o.outcome === 'indeterminate').length;
    for (const op of ops.filter((o) => o.outcome === 'indeterminate')) {
      const again = await perform(b.url, { ...op }, RESOLVE_ATTEMPTS);
      if (again.outcome === 'indeterminate' || again.status === 401 || again.status === 400 || again.code === 'IDEMPOTENCY_KEY_REUSED') {
        unresolved += 1;
        continue;
      }
      resolved += 1;
      // Checked below like any other answer: an acknowledged payment must then exist.
      op.outcome = again.outcome;
      op.status = again.status;
      op.code = again.code;
      if (again.resourceId) op.resourceId = again.resourceId;
    }
    lap('resolve');
    const quiet = await quiesce(b);
    lap('quiesce');
    const results = await checks(b, ops, indeterminate, unresolved, mail.messageIds, quiet, faults);
    lap('checks');
    const count = (o: Operation['outcome']) => ops.filter((x) => x.outcome === o).length;
    return {
      seed: opts.seed,
      scenarios: opts.scenarios,
      operations: { total: ops.length, ok: count('ok'), failed: count('failed'), indeterminate, resolved },
      faults,
      checks: results,
      passed: results.every((c) => c.ok),
      elapsedMs: Date.now() - startedAt,
      phasesMs,
    };
  } finally {
    await bank?.stop();
    await ledgerProxy?.close();
    await mail.close();
    await redis.dispose();
  }
}

/** The results as a table: one row per seed, a column per check (ok / FAIL). */
export function resultsTable(results: readonly RunResult[]): string {
  const names = results[0]?.checks.map((c) => c.name) ?? [];
  const short = names.map((_n, i) => `c${i + 1}`);
  const rows = results.map((r) => [String(r.seed), r.scenarios.join('+'), String(r.operations.total), `${r.operations.indeterminate}/${r.operations.resolved}`, String(r.faults.length), ...r.checks.map((c) => (c.ok ? 'ok' : 'FAIL')), r.passed ? 'PASS' : 'FAIL', `${(r.elapsedMs / 1000).toFixed(0)} s`]);
  const header = ['seed', 'scenarios', 'ops', 'indet/resolved', 'faults', ...short, 'result', 'time'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  const legend = names.map((n, i) => `  c${i + 1}: ${n}`);
  const failures = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `  seed ${r.seed}: ${c.name}: ${c.detail}`));
  return [line(header), ...rows.map(line), '', ...legend, ...(failures.length > 0 ? ['', 'failures (replay with --seed):', ...failures] : [])].join('\n');
}
