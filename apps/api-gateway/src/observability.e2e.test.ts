import { newId } from '@bank/kernel';
import { callApi, signInOperator, signUpCustomer, startTestBank, startTestSmtp, waitFor, type BankService, type TestBank, type TestSmtp } from '@bank/testkit';

// What an operator sees of a real payment, with every service a real process: each service's
// Prometheus endpoint, and the series the dashboards are drawn from.

let bank: TestBank;
let smtp: TestSmtp;
let operator: string;
const SERVICES: readonly BankService[] = ['auth', 'user', 'ledger', 'payment', 'notification'];

beforeAll(async () => {
  smtp = await startTestSmtp({
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => callback());
    },
  });
  bank = await startTestBank({ label: 'observe', smtpUrl: smtp.url, gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000' } });
  operator = await signInOperator(bank);
}, 90_000);

afterAll(async () => {
  await bank?.stop();
  await smtp?.close();
});

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};
/** The value of one series (name and labels as Prometheus prints them), or undefined. */
const sample = (text: string, series: RegExp) => {
  const line = text.split('\n').find((l) => series.test(l));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('metrics', () => {
  it('every service serves its RPCs, messaging, pool and process metrics after a payment', async () => {
    const alice = await signUpCustomer(bank.url);
    const bob = await signUpCustomer(bank.url);
    const from = (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, alice.token)).body!.id as string;
    const to = (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, bob.token)).body!.id as string;
    expect((await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: from, amount: 10_000, currency: 'USD', reference: 'cash' }, operator, { 'Idempotency-Key': newId() })).status).toBe(201);
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

  it('answers 404 off the metrics path', async () => {
    const res = await fetch(bank.metricsUrls.ledger.replace('/metrics', '/other'));
    expect(res.status).toBe(404);
  });
});
