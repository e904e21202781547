import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from './db';
import type { ServiceBinding } from './grpc';
import type { Logger } from './logger';

/** Where every service serves its metrics, on its operations port. */
export const METRICS_PATH = '/metrics';
/** Seconds. The ledger answers in milliseconds; a payment waited on (`Prefer: wait`) up to 30 s. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A scrape's database questions (outbox backlog, dead letters, sagas) give up after this long. */
export const METRICS_QUERY_TIMEOUT_MS = 2_000;
/** How finely the event-loop lag is sampled (prom-client's default is 10 ms). */
const EVENT_LOOP_PRECISION_MS = 20;
const NS_PER_S = 1e9;
const MS_PER_S = 1_000;

/**
 * A service's metrics registry: every series labelled with the service, and the process metrics
 * (RSS, heap, event-loop lag, GC pauses, open handles) collected on scrape.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  return registry;
}

/**
 * A gauge (or monotonic total) read from the database at scrape time. A scrape during an outage
 * answers without these series rather than failing whole: the process metrics still matter then.
 */
export function databaseGauge<L extends string>(
  registry: Registry,
  opts: { name: string; help: string; labelNames?: readonly L[]; read: () => Promise<readonly { labels?: Partial<Record<L, string>>; value: number }[]> },
): Gauge<L> {
  return new Gauge<L>({
    name: opts.name,
    help: opts.help,
    labelNames: opts.labelNames ?? [],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const s of await withTimeout(opts.read(), METRICS_QUERY_TIMEOUT_MS)) {
          if (s.labels) this.set(s.labels as Record<L, string>, s.value);
          else this.set(s.value);
        }
      } catch {
        // Left empty: the outage is reported by the dependency's health, not by every scrape.
      }
    },
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error('metrics query timed out')), ms)))]).finally(() => clearTimeout(timer));
}

/** What every service with a database reports about it and its messaging tables. */
export function registerDatabaseMetrics(registry: Registry, db: Database): void {
  new Gauge({
    name: 'db_pool_connections',
    help: 'Database pool connections: in use, idle, and callers waiting for one',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const p = db.poolStats();
      this.set({ state: 'used' }, p.used);
      this.set({ state: 'free' }, p.free);
      this.set({ state: 'waiting' }, p.waiting);
    },
  });
  new Counter({
    name: 'db_transaction_retries_total',
    help: 'Transactions replayed after a serialization failure or deadlock',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(db.transactionRetries);
    },
  });
  databaseGauge(registry, {
    name: 'outbox_unpublished_events',
    help: 'Outbox rows written and not yet published to the queues',
    read: async () => [{ value: Number((await db.sql.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox WHERE published_at IS NULL')).rows[0]?.n ?? 0) }],
  });
  databaseGauge(registry, {
    name: 'outbox_oldest_unpublished_age_seconds',
    help: 'Age of the oldest outbox row not yet published (0 when drained)',
    read: async () => [
      { value: Number((await db.sql.query<{ s: string | null }>('SELECT EXTRACT(EPOCH FROM now() - min(occurred_at))::text AS s FROM outbox WHERE published_at IS NULL')).rows[0]?.s ?? 0) },
    ],
  });
  databaseGauge(registry, {
    name: 'dead_letters',
    help: 'Events dead-lettered by this service and neither requeued nor dropped, per consumer',
    labelNames: ['queue'],
    read: async () =>
      (await db.sql.query<{ consumer: string; n: string }>('SELECT consumer, count(*)::text AS n FROM dead_letter WHERE requeued_at IS NULL AND dropped_at IS NULL GROUP BY consumer')).rows.map((r) => ({
        labels: { queue: r.consumer },
        value: Number(r.n),
      })),
  });
}

/** What an event consumer counts, per outcome: applied, duplicate, dead-lettered, or a failed attempt (retried). */
export interface ConsumerMetrics {
  handled(type: string, outcome: string): void;
}

export function consumerMetrics(registry: Registry, queue: string, backlog: () => Promise<{ waiting: number; active: number; delayed: number; failed: number }>): ConsumerMetrics {
  const jobs = new Counter({ name: 'queue_jobs_handled_total', help: 'Jobs handled by this consumer, by event type and outcome (failed: an attempt that will be retried)', labelNames: ['queue', 'type', 'outcome'], registers: [registry] });
  databaseGauge(registry, {
    name: 'queue_jobs',
    help: "Jobs in this consumer's queue, by state",
    labelNames: ['queue', 'state'],
    read: async () => {
      const b = await backlog();
      return (['waiting', 'active', 'delayed', 'failed'] as const).map((state) => ({ labels: { queue, state }, value: b[state] }));
    },
  });
  return { handled: (type, outcome) => jobs.inc({ queue, type, outcome }) };
}

/**
 * Wraps a service's gRPC handlers so that each call is counted and timed, by method and status
 * code, whatever answered it (the handler, the trust check, the deadline check).
 */
export function instrumentBindings(registry: Registry, bindings: readonly ServiceBinding[]): ServiceBinding[] {
  const handled = new Counter({ name: 'grpc_server_handled_total', help: 'gRPC calls answered, by method and status code', labelNames: ['method', 'code'], registers: [registry] });
  const duration = new Histogram({ name: 'grpc_server_handling_seconds', help: 'Time from receiving a gRPC call to answering it, by method and status code', labelNames: ['method', 'code'], buckets: LATENCY_BUCKETS_SECONDS, registers: [registry] });
  return bindings.map((b) => {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [name, fn] of Object.entries(b.implementation)) {
      const method = (b.definition[name] as { path?: string } | undefined)?.path ?? name;
      implementation[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const startedNs = process.hrtime.bigint();
        (fn as grpc.handleUnaryCall<unknown, unknown>)(call, (err, value, trailer, flags) => {
          const labels = { method, code: String(err ? (err.code ?? 2) : 0) };
          handled.inc(labels);
          duration.observe(labels, Number(process.hrtime.bigint() - startedNs) / NS_PER_S);
          callback(err, value, trailer, flags);
        });
      }) as grpc.UntypedHandleCall;
    }
    return { definition: b.definition, implementation };
  });
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The operations port of a gRPC service: GET /metrics in Prometheus's text format, nothing else. */
export async function startMetricsServer(opts: { registry: Registry; host: string; port: number; logger: Logger }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    opts.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
      (err: unknown) => {
        opts.logger.warn({ err }, 'metrics could not be collected');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  // A scrape is one short request; a slow or stuck client is cut rather than held.
  server.requestTimeout = METRICS_QUERY_TIMEOUT_MS * 5;
  server.headersTimeout = METRICS_QUERY_TIMEOUT_MS * 5;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info({ port }, 'metrics listening');
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Milliseconds as the seconds Prometheus histograms measure. */
export const secondsOf = (ms: number): number => ms / MS_PER_S;
