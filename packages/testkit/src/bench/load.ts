import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

// The benchmark's load generator, on a thread of its own so that the orchestrating thread's work
// (scrapes, RSS samples) never delays an arrival. Latency is measured from when a request was due,
// not from when it was sent: a generator that falls behind shows as latency (no coordinated omission).

/** Requests one generator keeps open at most; an arrival past it counts as an error (the bank is saturated). */
export const MAX_IN_FLIGHT = 4_096;
/** Sockets to the gateway per generator: enough that a fixed rate never waits for one. */
const MAX_SOCKETS = 512;
/** A request unanswered after this long is an error. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Arrivals are released in ticks of this length (timers are not finer than a millisecond). */
const TICK_MS = 2;

/** One customer's means to pay: a token and their two accounts. */
export interface Payer {
  readonly token: string;
  readonly from: string;
  readonly to: string;
}

export type LoadPlan =
  | { readonly kind: 'pay'; readonly gateway: string; readonly ratePerSecond: number; readonly seconds: number; readonly payers: readonly Payer[]; readonly waitSeconds: number }
  | { readonly kind: 'read'; readonly gateway: string; readonly connections: number; readonly seconds: number; readonly payers: readonly Payer[] };

export interface LoadReport {
  readonly sent: number;
  readonly ok: number;
  /** By what went wrong: an HTTP status, `timeout`, `saturated`, or a payment that did not complete. */
  readonly errors: Record<string, number>;
  readonly elapsedSeconds: number;
  /** Latency of each answered request, milliseconds, in the order answered. */
  readonly latenciesMs: Float64Array;
}

function request(agent: http.Agent, gateway: string, method: string, path: string, token: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const url = new URL(path, gateway);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, host: url.hostname, port: url.port, method, path: url.pathname, timeout: REQUEST_TIMEOUT_MS, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function runPlan(plan: LoadPlan): Promise<LoadReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS });
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const fail = (why: string) => (errors[why] = (errors[why] ?? 0) + 1);
  let sent = 0;
  let ok = 0;
  let inFlight = 0;
  const startedMs = performance.now();
  const endMs = startedMs + plan.seconds * 1_000;
  const one = async (dueMs: number, n: number) => {
    const payer = plan.payers[n % plan.payers.length] as Payer;
    inFlight += 1;
    try {
      if (plan.kind === 'pay') {
        // Half the payments go each way, so no account runs dry however long the run.
        const [from, to] = n % 2 === 0 ? [payer.from, payer.to] : [payer.to, payer.from];
        const body = JSON.stringify({ sourceAccountId: from, destinationAccountId: to, amount: 1 + (n % 100), currency: 'USD', description: 'bench' });
        const r = await request(agent, plan.gateway, 'POST', '/v1/payments', payer.token, body, { 'idempotency-key': randomUUID(), prefer: `wait=${plan.waitSeconds}` });
        if (r.status !== 201) fail(String(r.status));
        else if (!r.text.includes('"status":"completed"')) fail('not completed');
        else ok += 1;
      } else {
        const r = await request(agent, plan.gateway, 'GET', `/v1/accounts/${payer.from}`, payer.token, undefined, {});
        if (r.status !== 200) fail(String(r.status));
        else ok += 1;
      }
      latencies.push(performance.now() - dueMs);
    } catch (e) {
      fail(e instanceof Error && e.message === 'timeout' ? 'timeout' : 'connection');
    } finally {
      inFlight -= 1;
    }
  };
  if (plan.kind === 'pay') {
    // An open loop: arrivals at the fixed rate whatever the answers do.
    const intervalMs = 1_000 / plan.ratePerSecond;
    const pending: Promise<void>[] = [];
    for (let n = 0; ; n++) {
      const dueMs = startedMs + n * intervalMs;
      if (dueMs >= endMs) break;
      const now = performance.now();
      if (dueMs > now + TICK_MS) await new Promise((r) => setTimeout(r, dueMs - now));
      sent += 1;
      if (inFlight >= MAX_IN_FLIGHT) {
        fail('saturated');
        continue;
      }
      pending.push(one(dueMs, n));
    }
    await Promise.all(pending);
  } else {
    // A closed loop per connection, as wrk measures: the next request when the last is answered.
    let n = 0;
    await Promise.all(
      Array.from({ length: plan.connections }, async () => {
        while (performance.now() < endMs) {
          sent += 1;
          await one(performance.now(), n++);
        }
      }),
    );
  }
  agent.destroy();
  return { sent, ok, errors, elapsedSeconds: (performance.now() - startedMs) / 1_000, latenciesMs: Float64Array.from(latencies) };
}

/** Runs a plan on a thread of its own and resolves with its report. */
export function runLoad(plan: LoadPlan): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: { loadPlan: plan } });
    worker.once('message', (m: LoadReport | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`the load thread exited with ${code}`)));
  });
}

if (!isMainThread && (workerData as { loadPlan?: LoadPlan } | null)?.loadPlan) {
  const port = parentPort as NonNullable<typeof parentPort>;
  runPlan((workerData as { loadPlan: LoadPlan }).loadPlan).then(
    (report) => port.postMessage(report, [report.latenciesMs.buffer as ArrayBuffer]),
    (e: unknown) => port.postMessage({ error: e instanceof Error ? e.message : String(e) }),
  );
}
