/* The ledger benchmark: `npm run bench:ledger`. It measures pgbench's tpcb-like script against the
 * same PostgreSQL first, then drives CreateTransfers over gRPC at a real transaction-service
 * process, and prints each scenario's throughput, latency and ratio to pgbench. A run that breaks
 * a ledger invariant, or refuses transfers it should accept, fails. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { checkHealth, dropDatabase, dropQueueNamespace, ensureDatabase } from '@bank/platform';
import { LedgerClient, resultName } from '../support/ledger-client';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const PGBENCH_SCALE = 10;
const PGBENCH_CLIENTS = 4;
const ACCOUNTS = 10_000;
const CALLERS = 64;
const BATCHED_TRANSFERS_PER_CALL = 100;
const FUNDING_PER_ACCOUNT = 1_000_000_000n;
const SERVICE_PORT = Number(process.env.BENCH_GRPC_PORT ?? 50_993);
const STARTUP_TIMEOUT_MS = 60_000;
const TARGETS = { uniform: 1.0, hot: 1.0, batched: 5.0 } as const;
/** Unmeasured load first: JIT warm-up, the relay's backlog from account set-up, autovacuum. */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
/** BENCH_SCENARIOS=a,c runs a subset (for profiling); the default runs all three. */
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'a,b,c').split(','));

function dbUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

function pgbench(url: string): number {
  const u = new URL(url);
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
  const conn = ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username) || 'postgres', u.pathname.slice(1)];
  const init = spawnSync('pgbench', ['-i', '-q', '-s', String(PGBENCH_SCALE), ...conn], { env, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
  const run = spawnSync('pgbench', ['-b', 'tpcb-like', '-c', String(PGBENCH_CLIENTS), '-j', '2', '-T', String(SECONDS), ...conn], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`pgbench failed: ${run.stderr}`);
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(run.stdout);
  if (!match) throw new Error(`no tps in pgbench output:\n${run.stdout}`);
  return Number(match[1]);
}

async function startService(databaseUrl: string): Promise<ChildProcess> {
  const main = path.resolve(__dirname, '..', 'main.js');
  // BENCH_NODE_ARGS (e.g. --cpu-prof) lets a profiling run instrument the service.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: {
      PATH: process.env.PATH,
      LEDGER_DATABASE_URL: databaseUrl,
      LEDGER_GRPC_PORT: String(SERVICE_PORT),
      SERVICE_TOKEN: SERVICE_TOKEN,
      REDIS_URL,
      REDIS_QUEUE_PREFIX: QUEUE_PREFIX,
      LOG_LEVEL: 'warn',
      ...(process.env.LEDGER_BATCH_WINDOW_MS ? { LEDGER_BATCH_WINDOW_MS: process.env.LEDGER_BATCH_WINDOW_MS } : {}),
      ...(process.env.LEDGER_BATCH_MAX_IN_FLIGHT ? { LEDGER_BATCH_MAX_IN_FLIGHT: process.env.LEDGER_BATCH_MAX_IN_FLIGHT } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const until = Date.now() + STARTUP_TIMEOUT_MS;
  while (!(await checkHealth(`127.0.0.1:${SERVICE_PORT}`, 1_000))) {
    if (child.exitCode !== null) throw new Error(`transaction-service exited with ${child.exitCode}`);
    if (Date.now() > until) throw new Error('transaction-service did not become healthy');
    await new Promise((r) => setTimeout(r, 200));
  }
  return child;
}

const SERVICE_TOKEN = randomBytes(24).toString('hex');
/** The service's queues live under this prefix; the run deletes them when it ends. */
const QUEUE_PREFIX = `bench:${randomBytes(4).toString('hex')}`;

interface ScenarioResult {
  name: string;
  transfers: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  refused: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? 0;
}

/** Runs `callers` closed loops for the benchmark's duration; each call carries `perCall` transfers. */
async function scenario(client: LedgerClient, name: string, perCall: number, make: () => Partial<ledgerV1.Transfer>, durationSeconds = SECONDS): Promise<ScenarioResult> {
  const latencies: number[] = [];
  let transfers = 0;
  let refused = 0;
  const started = process.hrtime.bigint();
  const endAt = Date.now() + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (Date.now() < endAt) {
        const batch = Array.from({ length: perCall }, make);
        const t0 = process.hrtime.bigint();
        const res = await client.createTransfers(batch);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        transfers += batch.length;
        refused += res.outcomes.filter((o) => o.result !== ledgerV1.CreateTransferResult.CREATE_TRANSFER_RESULT_OK).length;
        if (refused > 0 && refused < 5) console.error(`refused: ${res.outcomes.filter((o) => o.result !== 0).map((o) => resultName(o.result)).join(', ')}`);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { name, transfers, seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), refused };
}

async function main(): Promise<void> {
  const pgbenchDb = dbUrl('bench_pgbench');
  const ledgerDb = dbUrl('bench_ledger');
  const measurePgbench = async (when: string): Promise<number> => {
    await dropDatabase(pgbenchDb);
    await ensureDatabase(pgbenchDb);
    console.log(`pgbench tpcb-like ${when}: scale ${PGBENCH_SCALE}, ${PGBENCH_CLIENTS} clients, ${SECONDS} s ...`);
    const tps = pgbench(pgbenchDb);
    console.log(`pgbench ${when}: ${tps.toFixed(0)} TPS`);
    await dropDatabase(pgbenchDb);
    return tps;
  };
  const pgbenchBefore = await measurePgbench('before');

  await dropDatabase(ledgerDb);
  await ensureDatabase(ledgerDb);
  const service = await startService(ledgerDb);
  const client = new LedgerClient(`127.0.0.1:${SERVICE_PORT}`, SERVICE_TOKEN);
  let failed = false;
  const results: ScenarioResult[] = [];
  const targets: number[] = [];
  try {
    const ids = Array.from({ length: ACCOUNTS }, () => newId());
    const hot = newId();
    for (let i = 0; i < ids.length; i += 5_000) {
      const chunk = [...ids.slice(i, i + 5_000), ...(i === 0 ? [hot] : [])];
      await client.createAccounts(chunk.map((id) => ({ id, currency: 'USD', kind: ledgerV1.AccountKind.ACCOUNT_KIND_CUSTOMER, flags: 1, ownerId: id })));
      const settlement = systemAccountId('USD', 'settlement');
      await client.createTransfers(chunk.map((id) => ({ id: newId(), debitAccountId: settlement, creditAccountId: id, amount: FUNDING_PER_ACCOUNT, currency: 'USD' })));
    }
    const pickPair = (): [string, string] => {
      const a = ids[Math.floor(Math.random() * ACCOUNTS)] as string;
      let b = a;
      while (b === a) b = ids[Math.floor(Math.random() * ACCOUNTS)] as string;
      return [a, b];
    };
    const uniform = () => {
      const [d, c] = pickPair();
      return { id: newId(), debitAccountId: d, creditAccountId: c, amount: 1n + BigInt(Math.floor(Math.random() * 1_000)), currency: 'USD' };
    };
    const hotCredit = () => ({ ...uniform(), creditAccountId: hot });
    console.log(`ledger: ${ACCOUNTS} accounts, ${CALLERS} concurrent callers, ${WARMUP_SECONDS} s warm-up, ${SECONDS} s per scenario ...`);
    await scenario(client, 'warm-up', 10, uniform, WARMUP_SECONDS);
    if (SCENARIOS.has('a')) {
      results.push(await scenario(client, '(a) 1 transfer/call, uniform', 1, uniform));
      targets.push(TARGETS.uniform);
    }
    if (SCENARIOS.has('b')) {
      results.push(await scenario(client, '(b) 1 transfer/call, hot credit', 1, hotCredit));
      targets.push(TARGETS.hot);
    }
    if (SCENARIOS.has('c')) {
      results.push(await scenario(client, `(c) ${BATCHED_TRANSFERS_PER_CALL} transfers/call`, BATCHED_TRANSFERS_PER_CALL, uniform));
      targets.push(TARGETS.batched);
    }
    const report = await client.verify();
    console.log(`invariants: ${report.ok ? 'hold' : 'BROKEN'} over ${report.accountsChecked} accounts and ${report.transfersChecked} transfers`);
    for (const v of report.violations) console.log(`  ${v.invariant}: ${v.detail}`);
    if (!report.ok) failed = true;
  } finally {
    client.close();
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
    await dropDatabase(ledgerDb);
    // Every transfer's event went to payment-service's queue; nobody consumes this run's queues.
    await dropQueueNamespace({ redisUrl: REDIS_URL, prefix: QUEUE_PREFIX });
  }
  // pgbench on this kind of machine swings by a third from run to run. It runs again once the
  // service has stopped, and the scenarios are divided by the better run, so that a slow pgbench
  // cannot flatter them.
  const pgbenchAfter = await measurePgbench('after');
  const pgbenchTps = Math.max(pgbenchBefore, pgbenchAfter);
  console.log('');
  console.log(`scenario                           transfers/s    p50 ms    p99 ms   vs pgbench   target   refused`);
  results.forEach((r, i) => {
    const tps = r.transfers / r.seconds;
    const ratio = tps / pgbenchTps;
    const target = targets[i] as number;
    console.log(
      `${r.name.padEnd(34)} ${tps.toFixed(0).padStart(11)} ${r.p50Ms.toFixed(2).padStart(9)} ${r.p99Ms.toFixed(2).padStart(9)} ${`${ratio.toFixed(2)}x`.padStart(12)} ${`${target.toFixed(1)}x`.padStart(8)} ${String(r.refused).padStart(9)} ${ratio >= target ? 'met' : 'MISSED'}`,
    );
    if (r.refused > 0) failed = true;
  });
  console.log(`pgbench tpcb-like: ${pgbenchBefore.toFixed(0)} TPS before, ${pgbenchAfter.toFixed(0)} TPS after; the ratios use ${pgbenchTps.toFixed(0)}`);
  if (failed) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
