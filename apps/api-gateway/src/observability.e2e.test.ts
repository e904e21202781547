import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { newId } from '@bank/kernel';
import { callApi, signInOperator, signUpCustomer, startTestBank, startTestSmtp, waitFor, type BankService, type TestBank, type TestSmtp } from '@bank/testkit';

// What an operator sees of a real payment, with every service a real process: each service's
// Prometheus endpoint and the series the dashboards are drawn from; the payment's one trace, from
// the gateway through gRPC, PostgreSQL, the outbox and the queues to the consumer and SMTP, sent
// over OTLP to a collector of the test's own; and the log lines that carry that trace.

interface Span {
  service: string;
  traceId: string;
  name: string;
  attributes: Record<string, unknown>;
}

let bank: TestBank;
let smtp: TestSmtp;
let collector: http.Server;
let operator: string;
const spans: Span[] = [];
const logs: { app: string; line: Record<string, unknown> }[] = [];
const SERVICES: readonly BankService[] = ['auth', 'user', 'ledger', 'payment', 'notification'];

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
type OtlpAttribute = { key: string; value: OtlpValue };
const valueOf = (v: OtlpValue) => v.stringValue ?? v.intValue ?? v.boolValue;

/** An OTLP/HTTP (JSON) trace receiver: what the services export, kept for the test to read. */
async function startCollector(): Promise<string> {
  collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const doc = JSON.parse(body || '{}') as { resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: { traceId: string; name: string; attributes?: OtlpAttribute[] }[] }[] }[] };
      for (const rs of doc.resourceSpans ?? []) {
        const service = String(valueOf(rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value ?? {}) ?? '');
        for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ service, traceId: s.traceId, name: s.name, attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, valueOf(a.value)])) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  smtp = await startTestSmtp({
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => callback());
    },
  });
  // Tracing is off unless an endpoint is configured: here it is, exported every 100 ms.
  const tracing = { OTEL_EXPORTER_OTLP_ENDPOINT: await startCollector(), OTEL_BSP_SCHEDULE_DELAY: '100', LOG_LEVEL: 'info' };
  bank = await startTestBank({
    label: 'observe',
    smtpUrl: smtp.url,
    gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000', ...tracing },
    serviceEnv: { auth: tracing, user: tracing, ledger: tracing, payment: tracing, notification: tracing },
    onOutput: (app, line) => {
      if (line.startsWith('{')) logs.push({ app, line: JSON.parse(line) as Record<string, unknown> });
    },
  });
  operator = await signInOperator(bank);
}, 90_000);

afterAll(async () => {
  await bank?.stop();
  await smtp?.close();
  await new Promise((resolve) => collector?.close(resolve));
});

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};
/** Alice with 10,000 in her account, and Bob's account to pay. */
async function fundedPair() {
  const alice = await signUpCustomer(bank.url);
  const bob = await signUpCustomer(bank.url);
  const from = (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, alice.token)).body!.id as string;
  const to = (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, bob.token)).body!.id as string;
  expect((await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: from, amount: 10_000, currency: 'USD', reference: 'cash' }, operator, { 'Idempotency-Key': newId() })).status).toBe(201);
  return { alice, from, to };
}

/** The value of one series (name and labels as Prometheus prints them), or undefined. */
const sample = (text: string, series: RegExp) => {
  const line = text.split('\n').find((l) => series.test(l));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('metrics', () => {
  it('every service serves its RPCs, messaging, pool and process metrics after a payment', async () => {
    const { alice, from, to } = await fundedPair();
    const paid = await callApi(bank.url, 'POST', '/v1/payments', { sourceAccountId: from, destinationAccountId: to, amount: 2_500, currency: 'USD', description: 'rent' }, alice.token, { 'Idempotency-Key': newId(), Prefer: 'wait=10' });
    expect(paid.body!.status).toBe('completed');

    for (const s of SERVICES) {
      const text = await scrape(bank.metricsUrls[s]);
      // Process metrics, labelled with the service.
      expect(sample(text, /^process_resident_memory_bytes\{service="[a-z-]+"\}/)).toBeGreaterThan(10 * 1024 * 1024);
      expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{/m);
      expect(text).toMatch(/^db_pool_connections\{state="used",service=/m);
      expect(text).toMatch(/^outbox_unpublished_events\{service=/m);
      expect(text).toMatch(/^outbox_oldest_unpublished_age_seconds\{service=/m);
    }
    const ledger = await scrape(bank.metricsUrls.ledger);
    expect(sample(ledger, /^grpc_server_handled_total\{method="\/bank\.transaction\.v1\.LedgerService\/CreateTransfers",code="0"/)).toBeGreaterThanOrEqual(2);
    expect(sample(ledger, /^ledger_batches_total\{outcome="committed"/)).toBeGreaterThanOrEqual(2);
    expect(sample(ledger, /^ledger_batch_transfers_count\{/)).toBeGreaterThanOrEqual(2);
    expect(ledger).toMatch(/^ledger_batch_commit_seconds_bucket\{le="0.05",service="transaction-service",outcome="committed"\}/m);

    const payment = await scrape(bank.metricsUrls.payment);
    expect(sample(payment, /^grpc_server_handled_total\{method="\/bank\.payment\.v1\.PaymentService\/CreatePayment",code="0"/)).toBe(1);
    expect(payment).toMatch(/^payment_sagas_running\{step="needs_attention",service="payment-service"\} 0$/m);
    expect(payment).toMatch(/^payment_saga_oldest_running_age_seconds\{service="payment-service"\} 0$/m);

    // The emails of the payment were consumed from the notification queue: counted by outcome.
    await waitFor(async () => ((sample(await scrape(bank.metricsUrls.notification), /^queue_jobs_handled_total\{queue="notification-service",type="payment\.completed",outcome="applied"/) ?? 0) >= 1 ? true : undefined), 15_000, 200);
    const notification = await scrape(bank.metricsUrls.notification);
    expect(notification).toMatch(/^queue_jobs\{queue="notification-service",state="waiting",service="notification-service"\} \d+$/m);

    // The gateway counts the same payment per route template and status, on its operations port.
    const gateway = await scrape(`${bank.opsUrl}/metrics`);
    expect(sample(gateway, /^http_requests_total\{method="POST",route="\/v1\/payments",status="201",service="api-gateway"\}/)).toBe(1);
  });

  it('draws the Grafana dashboard only from series the services register', async () => {
    const served = new Set<string>();
    for (const url of [...Object.values(bank.metricsUrls), `${bank.opsUrl}/metrics`]) for (const m of (await scrape(url)).matchAll(/^(?:# TYPE )?([a-z_][a-z0-9_]*)[{ ]/gm)) {
        // A histogram's TYPE line names the family; its series are name_bucket, _sum and _count.
        const name = m[1] as string;
        for (const suffix of ['', '_bucket', '_sum', '_count']) served.add(`${name}${suffix}`);
      }
    const dashboard = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'deploy', 'grafana', 'dashboards', 'bank-overview.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const FUNCTIONS = new Set(['histogram_quantile']);
    const named = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\b([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b/g)].map((m) => ({ panel: p.title, name: m[1] as string }))));
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((n) => !FUNCTIONS.has(n.name) && !served.has(n.name))).toEqual([]);
  });

  it('answers 404 off the metrics path', async () => {
    const res = await fetch(bank.metricsUrls.ledger.replace('/metrics', '/other'));
    expect(res.status).toBe(404);
  });
});

describe('tracing and logs', () => {
  it('follows one Idempotency-Key from the gateway through the saga, its events and its emails, in one trace', async () => {
    const { alice, from, to } = await fundedPair();
    const key = `trace-me-${newId()}`;
    const paid = await callApi(bank.url, 'POST', '/v1/payments', { sourceAccountId: from, destinationAccountId: to, amount: 700, currency: 'USD', description: 'traced' }, alice.token, { 'Idempotency-Key': key, Prefer: 'wait=10' });
    expect(paid.body!.status).toBe('completed');

    // The key names the trace: the gateway's request span carries it.
    const root = await waitFor(async () => spans.find((s) => s.service === 'api-gateway' && s.attributes['bank.idempotency_key'] === key), 15_000, 100);
    const traceId = root.traceId;
    // Both emails sent is the end of the trace: every part has exported by then.
    const inTrace = await waitFor(async () => {
      const t = spans.filter((s) => s.traceId === traceId);
      return t.filter((s) => s.name === 'smtp send').length >= 2 ? t : undefined;
    }, 20_000, 100);
    const parts = (service: string) => inTrace.filter((s) => s.service === service).map((s) => s.name);
    expect(parts('api-gateway')).toEqual(expect.arrayContaining([expect.stringMatching(/^POST/), expect.stringContaining('bank.payment.v1.PaymentService/CreatePayment')]));
    expect(parts('payment-service')).toEqual(expect.arrayContaining([expect.stringContaining('PaymentService/CreatePayment'), expect.stringContaining('LedgerService/CreateTransfers')]));
    // PostgreSQL (pg), Redis (ioredis) and the ledger's gRPC server are in the same trace.
    expect(inTrace.some((s) => s.service === 'payment-service' && /^pg\.|^(INSERT|UPDATE|SELECT|BEGIN|COMMIT)/.test(s.name))).toBe(true);
    expect(parts('transaction-service')).toEqual(expect.arrayContaining([expect.stringContaining('LedgerService/CreateTransfers')]));
    // The outbox event, taken from the queue by the consumer, and the emails it caused.
    expect(parts('notification-service')).toEqual(expect.arrayContaining(['consume payment.completed', 'smtp send']));

    // The log lines of that request carry the trace id, and the gateway's access line the key.
    const access = await waitFor(async () => logs.find((l) => l.app === 'api-gateway' && l.line.idempotencyKey === key), 5_000, 100);
    expect(access.line.traceId).toBe(traceId);
    expect(access.line.requestId).toEqual(expect.any(String));
  });
});
