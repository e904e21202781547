/* The ledger benchmark: `npm run bench:ledger`. It measures pgbench's tpcb-like script against the
 * same PostgreSQL first, then drives CreateTransfers over gRPC at a real transaction-service
 * process, and prints each scenario's throughput, latency and ratio to pgbench. A run that breaks
 * a ledger invariant, or refuses transfers it should accept, fails. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { WORKLOADS, ledgerV1 } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { systemAccountId } from '@bank/ledger-core';
import { checkHealth, dropDatabase, dropQueueNamespace, ensureDatabase, issueLocalIdentities, loadIdentity } from '@bank/platform';
import { CLIENT_TIMEOUT_MS, LedgerClient, resultName } from '../support/ledger-client';
import { PGBENCH, pgbenchTps } from '@bank/testkit';
import { LeanLedgerClient } from './lean-grpc-client';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const ACCOUNTS = 10_000;
/** pgbench's figure when the caller measured it already (npm run bench does, before and after all of its parts). */
const GIVEN_PGBENCH_TPS = process.env.BENCH_PGBENCH_TPS ? Number(process.env.BENCH_PGBENCH_TPS) : undefined;
/** Where the scenarios' figures are written as JSON, for npm run bench's table. */
const RESULTS_JSON = process.env.BENCH_LEDGER_JSON;
const CALLERS = 64;
/**
 * The callers are spread over this many client threads, each with its own gRPC channel. A single
 * grpc-js client thread costs about 150 µs of CPU per call, and its queue of 64 pending responses
 * would then be the client's latency, not the service's; like h2load or ghz, the load generator
 * must not be what is measured.
 */
const CLIENT_THREADS = Number(process.env.BENCH_CLIENT_THREADS ?? 2);
/** Which gRPC client the load generator uses: `lean` (see lean-grpc-client.ts) or `grpc-js`. */
const CLIENT_KIND = (process.env.BENCH_CLIENT ?? 'lean') as ClientKind;
type ClientKind = 'lean' | 'grpc-js';
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


async function startService(databaseUrl: string): Promise<ChildProcess> {
  const main = path.resolve(__dirname, '..', 'main.js');
  // BENCH_NODE_ARGS (e.g. --cpu-prof) lets a profiling run instrument the service.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: {
      PATH: process.env.PATH,
      LEDGER_DATABASE_URL: databaseUrl,
      LEDGER_GRPC_PORT: String(SERVICE_PORT),
      LEDGER_METRICS_PORT: '0',
      BANK_TLS_DIR: TLS_DIR,
      REDIS_URL,
      REDIS_QUEUE_PREFIX: QUEUE_PREFIX,
      LOG_LEVEL: 'warn',
      ...(process.env.LEDGER_BATCH_WINDOW_MS ? { LEDGER_BATCH_WINDOW_MS: process.env.LEDGER_BATCH_WINDOW_MS } : {}),
      ...(process.env.LEDGER_BATCH_MAX_IN_FLIGHT ? { LEDGER_BATCH_MAX_IN_FLIGHT: process.env.LEDGER_BATCH_MAX_IN_FLIGHT } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const until = Date.now() + STARTUP_TIMEOUT_MS;
  while (!(await checkHealth(`127.0.0.1:${SERVICE_PORT}`, loadIdentity(TLS_DIR, CALLER), 1_000))) {
    if (child.exitCode !== null) throw new Error(`transaction-service exited with ${child.exitCode}`);
    if (Date.now() > until) throw new Error('transaction-service did not become healthy');
    await new Promise((r) => setTimeout(r, 200));
  }
  return child;
}

/** The run's own certificates (a CA and one per workload), removed when it ends; TLS is always on. */
const TLS_DIR = path.join(os.tmpdir(), `bank-bench-tls-${randomBytes(4).toString('hex')}`);
/** The load comes from the workload that makes transfers in production. */
const CALLER = 'payment-service';
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

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? 0;
}

type TransferShape = 'uniform' | 'hot';

/** What a client thread is told: whom to call, with what, and until when. */
interface LoadPlan {
  address: string;
  tlsDir: string;
  accountIds: string[];
  hotId: string;
  client: ClientKind;
  shape: TransferShape;
  perCall: number;
  callers: number;
  endAtMs: number;
}

interface LoadReport {
  transfers: number;
  refused: number;
  refusals: string[];
  latenciesMs: Float64Array;
  elapsedSeconds: number;
}

function transferMaker(plan: LoadPlan): () => Partial<ledgerV1.Transfer> {
  const ids = plan.accountIds;
  const pickPair = (): [string, string] => {
    const a = ids[Math.floor(Math.random() * ids.length)] as string;
    let b = a;
    while (b === a) b = ids[Math.floor(Math.random() * ids.length)] as string;
    return [a, b];
  };
  return () => {
    const [d, c] = pickPair();
    return { id: newId(), debitAccountId: d, creditAccountId: plan.shape === 'hot' ? plan.hotId : c, amount: 1n + BigInt(Math.floor(Math.random() * 1_000)), currency: 'USD' };
  };
}

interface TransferClient {
  createTransfers(transfers: Partial<ledgerV1.Transfer>[], timeoutMs: number): Promise<ledgerV1.CreateTransfersResponse>;
  close(): void;
}

/**
 * One client thread's closed loops: each caller sends its next call as soon as the last returns.
 * The thread keeps one client for all scenarios, so the warm-up also warms its connection.
 */
async function runLoad(client: TransferClient, plan: LoadPlan): Promise<LoadReport> {
  const make = transferMaker(plan);
  const latencies: number[] = [];
  const refusals: string[] = [];
  let transfers = 0;
  let refused = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: plan.callers }, async () => {
      while (Date.now() < plan.endAtMs) {
        const batch = Array.from({ length: plan.perCall }, make);
        const t0 = process.hrtime.bigint();
        const res = await client.createTransfers(batch, CLIENT_TIMEOUT_MS);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        transfers += batch.length;
        for (const o of res.outcomes) {
          if (o.result === ledgerV1.CreateTransferResult.CREATE_TRANSFER_RESULT_OK) continue;
          refused++;
          if (refusals.length < 5) refusals.push(resultName(o.result));
        }
      }
    }),
  );
  return { transfers, refused, refusals, latenciesMs: Float64Array.from(latencies), elapsedSeconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** A client thread's message: ready to take plans, a plan's report, or why it failed. */
type ThreadMessage = { ready: true } | { report: LoadReport } | { error: string };

/**
 * A client thread, with a single listener per event for its whole life: a thread that fails or
 * exits, between scenarios or during one, fails whatever the run is waiting for at once.
 */
class ClientThread {
  private readonly worker = new Worker(__filename, { workerData: { clientThread: true } });
  private failure: Error | undefined;
  private waiting: { resolve: (m: ThreadMessage) => void; reject: (e: Error) => void } | undefined;

  constructor() {
    this.worker.on('message', (m: ThreadMessage) => {
      const w = this.waiting;
      this.waiting = undefined;
      if ('error' in m) this.fail(new Error(`a client thread failed: ${m.error}`), w);
      else w?.resolve(m);
    });
    this.worker.on('error', (e) => this.fail(e, this.waiting));
    this.worker.on('exit', (code) => this.fail(new Error(`a client thread exited with ${code}`), this.waiting));
  }

  private fail(e: Error, w: { reject: (e: Error) => void } | undefined): void {
    this.failure ??= e;
    this.waiting = undefined;
    w?.reject(this.failure);
  }

  /** The next message, or the thread's failure. */
  private next(): Promise<ThreadMessage> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async ready(): Promise<this> {
    await this.next();
    return this;
  }

  async run(plan: LoadPlan): Promise<LoadReport> {
    const reply = this.next();
    this.worker.postMessage(plan);
    const m = await reply;
    if (!('report' in m)) throw new Error('a client thread answered a plan without a report');
    return m.report;
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners();
    await this.worker.terminate();
  }
}

/** Runs `CALLERS` closed loops, split over the client threads, for the scenario's duration. */
async function scenario(workers: ClientThread[], base: Omit<LoadPlan, 'shape' | 'perCall' | 'callers' | 'endAtMs'>, name: string, perCall: number, shape: TransferShape, durationSeconds = SECONDS): Promise<ScenarioResult> {
  const endAtMs = Date.now() + durationSeconds * 1000;
  const reports = await Promise.all(
    workers.map((w, i) => {
      // The callers are dealt out as evenly as they go: 64 over 3 threads is 22, 21, 21.
      const callers = Math.floor(CALLERS / workers.length) + (i < CALLERS % workers.length ? 1 : 0);
      return w.run({ ...base, shape, perCall, callers, endAtMs });
    }),
  );
  const latencies = new Float64Array(reports.reduce((n, r) => n + r.latenciesMs.length, 0));
  let offset = 0;
  for (const r of reports) {
    latencies.set(r.latenciesMs, offset);
    offset += r.latenciesMs.length;
  }
  latencies.sort();
  const refusals = reports.flatMap((r) => r.refusals);
  if (refusals.length > 0) console.error(`refused: ${refusals.join(', ')}`);
  return {
    name,
    transfers: reports.reduce((n, r) => n + r.transfers, 0),
    seconds: Math.max(...reports.map((r) => r.elapsedSeconds)),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    refused: reports.reduce((n, r) => n + r.refused, 0),
  };
}

async function main(): Promise<void> {
  // Until the run has finished, an exit is a failure: should the process run out of work while
  // awaiting something that never settles, Node would otherwise end it with code 0.
  process.exitCode = 1;
  if (CLIENT_KIND !== 'lean' && CLIENT_KIND !== 'grpc-js') throw new Error(`BENCH_CLIENT must be lean or grpc-js, not ${String(CLIENT_KIND)}`);
  if (!Number.isInteger(CLIENT_THREADS) || CLIENT_THREADS < 1 || CLIENT_THREADS > CALLERS) throw new Error(`BENCH_CLIENT_THREADS must be an integer from 1 to ${CALLERS}`);
  const pgbenchDb = dbUrl('bench_pgbench');
  const ledgerDb = dbUrl('bench_ledger');
  const measurePgbench = async (when: string): Promise<number> => {
    // `npm run bench` measures pgbench once before and after everything, and says so here.
    if (GIVEN_PGBENCH_TPS !== undefined) return GIVEN_PGBENCH_TPS;
    await dropDatabase(pgbenchDb);
    await ensureDatabase(pgbenchDb);
    console.log(`pgbench tpcb-like ${when}: scale ${PGBENCH.scale}, ${PGBENCH.clients} clients, ${SECONDS} s ...`);
    const tps = pgbenchTps(pgbenchDb, SECONDS);
    console.log(`pgbench ${when}: ${tps.toFixed(0)} TPS`);
    await dropDatabase(pgbenchDb);
    return tps;
  };
  const pgbenchBefore = await measurePgbench('before');

  await dropDatabase(ledgerDb);
  await ensureDatabase(ledgerDb);
  await issueLocalIdentities(TLS_DIR, WORKLOADS);
  const service = await startService(ledgerDb);
  const client = new LedgerClient(`127.0.0.1:${SERVICE_PORT}`, loadIdentity(TLS_DIR, 'bank-cli'));
  let failed = false;
  const results: ScenarioResult[] = [];
  const targets: number[] = [];
  const workers: ClientThread[] = [];
  try {
    const ids = Array.from({ length: ACCOUNTS }, () => newId());
    const hot = newId();
    for (let i = 0; i < ids.length; i += 5_000) {
      const chunk = [...ids.slice(i, i + 5_000), ...(i === 0 ? [hot] : [])];
      await client.createAccounts(chunk.map((id) => ({ id, currency: 'USD', kind: ledgerV1.AccountKind.ACCOUNT_KIND_CUSTOMER, flags: 1, ownerId: id })));
      const settlement = systemAccountId('USD', 'settlement');
      await client.createTransfers(chunk.map((id) => ({ id: newId(), debitAccountId: settlement, creditAccountId: id, amount: FUNDING_PER_ACCOUNT, currency: 'USD' })));
    }
    const base = { address: `127.0.0.1:${SERVICE_PORT}`, tlsDir: TLS_DIR, accountIds: ids, hotId: hot, client: CLIENT_KIND };
    workers.push(...Array.from({ length: CLIENT_THREADS }, () => new ClientThread()));
    await Promise.all(workers.map((w) => w.ready()));
    console.log(`ledger: ${ACCOUNTS} accounts, ${CALLERS} concurrent callers on ${CLIENT_THREADS} ${CLIENT_KIND} client threads, ${WARMUP_SECONDS} s warm-up, ${SECONDS} s per scenario ...`);
    await scenario(workers, base, 'warm-up', 10, 'uniform', WARMUP_SECONDS);
    if (SCENARIOS.has('a')) {
      results.push(await scenario(workers, base, '(a) 1 transfer/call, uniform', 1, 'uniform'));
      targets.push(TARGETS.uniform);
    }
    if (SCENARIOS.has('b')) {
      results.push(await scenario(workers, base, '(b) 1 transfer/call, hot credit', 1, 'hot'));
      targets.push(TARGETS.hot);
    }
    if (SCENARIOS.has('c')) {
      results.push(await scenario(workers, base, `(c) ${BATCHED_TRANSFERS_PER_CALL} transfers/call`, BATCHED_TRANSFERS_PER_CALL, 'uniform'));
      targets.push(TARGETS.batched);
    }
    const report = await client.verify();
    console.log(`invariants: ${report.ok ? 'hold' : 'BROKEN'} over ${report.accountsChecked} accounts and ${report.transfersChecked} transfers`);
    for (const v of report.violations) console.log(`  ${v.invariant}: ${v.detail}`);
    if (!report.ok) failed = true;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    client.close();
    // A service that died during the run has already exited; waiting for its exit would wait for ever.
    if (service.exitCode === null && service.signalCode === null) {
      const exited = new Promise((r) => service.once('exit', r));
      service.kill('SIGTERM');
      await exited;
    } else {
      console.error(`transaction-service died during the run (${service.signalCode ?? `exit code ${service.exitCode}`})`);
      failed = true;
    }
    await rm(TLS_DIR, { recursive: true, force: true });
    await dropDatabase(ledgerDb);
    // Every transfer's event went to payment-service's queue; nobody consumes this run's queues.
    await dropQueueNamespace({ redisUrl: REDIS_URL, prefix: QUEUE_PREFIX });
  }
  // pgbench on this kind of machine swings by a third from run to run. It runs again once the
  // service has stopped, and the scenarios are divided by the better run, so that a slow pgbench
  // cannot flatter them.
  const pgbenchAfter = await measurePgbench('after');
  const baseline = Math.max(pgbenchBefore, pgbenchAfter);
  console.log('');
  console.log(`scenario                           transfers/s    p50 ms    p99 ms   vs pgbench   target   refused`);
  results.forEach((r, i) => {
    const tps = r.transfers / r.seconds;
    const ratio = tps / baseline;
    const target = targets[i] as number;
    console.log(
      `${r.name.padEnd(34)} ${tps.toFixed(0).padStart(11)} ${r.p50Ms.toFixed(2).padStart(9)} ${r.p99Ms.toFixed(2).padStart(9)} ${`${ratio.toFixed(2)}x`.padStart(12)} ${`${target.toFixed(1)}x`.padStart(8)} ${String(r.refused).padStart(9)} ${ratio >= target ? 'met' : 'MISSED'}`,
    );
    if (r.refused > 0) failed = true;
  });
  console.log(`pgbench tpcb-like: ${pgbenchBefore.toFixed(0)} TPS before, ${pgbenchAfter.toFixed(0)} TPS after; the ratios use ${baseline.toFixed(0)}`);
  if (RESULTS_JSON) await writeFile(RESULTS_JSON, `${JSON.stringify(results.map((r, i) => ({ ...r, tps: r.transfers / r.seconds, target: targets[i] })), null, 2)}\n`);
  process.exitCode = failed ? 1 : 0;
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else if ((workerData as { clientThread?: boolean } | null)?.clientThread) {
  const port = parentPort as NonNullable<typeof parentPort>;
  let client: TransferClient | undefined;
  port.on('message', (plan: LoadPlan) => {
    const identity = loadIdentity(plan.tlsDir, CALLER);
    client ??= plan.client === 'grpc-js' ? new LedgerClient(plan.address, identity) : new LeanLedgerClient(plan.address, identity);
    runLoad(client, plan).then(
      (report) => port.postMessage({ report } satisfies ThreadMessage, [report.latenciesMs.buffer as ArrayBuffer]),
      (e: unknown) => port.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies ThreadMessage),
    );
  });
  port.postMessage({ ready: true } satisfies ThreadMessage);
}
