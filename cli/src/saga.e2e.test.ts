import { newId } from '@bank/kernel';
import { callApi, signInOperator, signUpCustomer, startTestBank, startTestSmtp, waitFor, type TestBank, type TestSmtp } from '@bank/testkit';

// bank-cli saga against the real services: the whole timeline of a real payment (steps, ledger
// transfers, events, emails), and sagas left half-done by a killed payment-service, resumed and
// compensated by hand.

/** A port nothing listens on: payment-service restarted with it cannot take events up by itself. */
const NO_REDIS = 'redis://127.0.0.1:1';
let bank: TestBank;
let operator: string;
const mailed: string[] = [];

let smtp: TestSmtp;
const mailHooks: Parameters<typeof startTestSmtp>[0] = {
  onData(stream, session, callback) {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      mailed.push(session.envelope.rcptTo.map((r) => r.address).join(','));
      callback();
    });
  },
};

const cliJson = <T,>(...args: string[]) => bank.cli<T>(...args);

beforeAll(async () => {
  smtp = await startTestSmtp(mailHooks);
  bank = await startTestBank({ label: 'cli_saga', smtpUrl: smtp.url, gatewayEnv: { GATEWAY_AUTH_RATE_LIMIT_PER_MIN: '1000' } });
  operator = await signInOperator(bank);
}, 90_000);

afterAll(async () => {
  await bank?.stop();
  await smtp?.close();
}, 30_000);

type Customer = Awaited<ReturnType<typeof signUpCustomer>>;
const openAccount = async (c: Customer) => (await callApi(bank.url, 'POST', '/v1/accounts', { currency: 'USD' }, c.token)).body!.id as string;
const pay = (c: Customer, from: string, to: string, amount: number, wait: boolean, key = newId()) =>
  callApi(bank.url, 'POST', '/v1/payments', { sourceAccountId: from, destinationAccountId: to, amount, currency: 'USD', description: 'rent' }, c.token, { 'Idempotency-Key': key, ...(wait ? { Prefer: 'wait=10' } : {}) });
const paymentOf = async (c: Customer, id: string) => (await callApi(bank.url, 'GET', `/v1/payments/${id}`, undefined, c.token)).body!;
const balanceOf = async (c: Customer, id: string) => ((await callApi(bank.url, 'GET', `/v1/accounts/${id}`, undefined, c.token)).body!.balance as { posted: number; pending: number });

interface Timeline {
  payment: { id: string; status: string };
  events: { at: string; source: string; kind: string; detail: string }[];
}

describe('bank-cli saga', () => {
  let alice: Customer;
  let bob: Customer;
  let from: string;
  let to: string;

  it('show prints the whole timeline of a real payment, and the gateway serves the same to operators', async () => {
    [alice, bob] = [await signUpCustomer(bank.url), await signUpCustomer(bank.url)];
    [from, to] = [await openAccount(alice), await openAccount(bob)];
    const dep = await waitFor(async () => {
      const r = await callApi(bank.url, 'POST', '/v1/admin/deposits', { accountId: from, amount: 100_000, currency: 'USD', reference: 'cash' }, operator, { 'Idempotency-Key': `dep-${from}` });
      return r.status === 201 ? r : undefined;
    }, 20_000, 200);
    expect(dep.status).toBe(201);
    const paid = await pay(alice, from, to, 2_500, true);
    expect(paid.body).toMatchObject({ status: 'completed' });
    const id = paid.body!.id as string;
    // The emails go out after the event is consumed: wait until the timeline has both, sent.
    const shown = await waitFor(async () => {
      const r = await cliJson<Timeline>('saga', 'show', id);
      return r.body.events.filter((e) => e.kind.startsWith('email.') && e.detail.endsWith(': sent')).length === 2 ? r : undefined;
    }, 30_000, 500);
    expect(shown.code).toBe(0);
    const kinds = shown.body.events.map((e) => e.kind);
    for (const kind of ['step.accepted', 'step.hold_placed', 'step.checked', 'step.captured', 'transfer.hold', 'transfer.capture', 'event.payment.completed', 'event.published', 'email.payment_sent', 'email.payment_received']) expect(kinds).toContain(kind);
    expect(kinds).not.toContain('unavailable');
    // In time order, and each from the service whose record it is.
    const times = shown.body.events.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(shown.body.events.find((e) => e.kind === 'transfer.hold')).toMatchObject({ source: 'transaction-service' });
    expect(shown.body.events.find((e) => e.kind === 'transfer.hold')!.detail).toContain(`2500 USD from ${from} to ${to}, now posted`);
    expect(shown.body.events.find((e) => e.kind === 'email.payment_sent')).toMatchObject({ source: 'notification-service' });
    expect(mailed).toEqual(expect.arrayContaining([alice.email, bob.email]));

    const viaGateway = await callApi(bank.url, 'GET', `/v1/admin/payments/${id}/timeline`, undefined, operator);
    expect(viaGateway.status).toBe(200);
    expect((viaGateway.body as unknown as Timeline).events.map((e) => e.kind)).toEqual(kinds);
    expect((viaGateway.body as unknown as Timeline).payment).toMatchObject({ id, status: 'completed' });
    // To a customer, even the payer, the route does not exist.
    expect((await callApi(bank.url, 'GET', `/v1/admin/payments/${id}/timeline`, undefined, alice.token)).status).toBe(404);
    expect((await cliJson<unknown>('saga', 'show', newId())).code).toBe(1);
  }, 90_000);

  it('resume finishes a saga a killed payment-service left half-done, and compensate undoes another', async () => {
    // Two payments, each killed between its checks and its capture (hold placed, nothing moved).
    // payment-service runs with no Redis and a slow sweeper from here on, so nothing takes a
    // half-done saga up by itself (not even the next life's failpoint).
    const alone = { PAYMENT_SWEEP_MS: '60000', REDIS_URL: NO_REDIS };
    const stuck: string[] = [];
    await bank.signal('payment', 'SIGKILL');
    for (let i = 0; i < 2; i++) {
      await bank.restart('payment', { ...alone, PAYMENT_FAILPOINTS: 'before:capture' });
      const died = bank.exitOf('payment');
      // The gateway's channel to the restarted service may still be backing off: retried with the same key, as a client would.
      const key = newId();
      const r = await waitFor(async () => {
        const res = await pay(alice, from, to, 1_000 + i, false, key);
        return res.status === 503 ? undefined : res;
      }, 15_000, 200);
      expect(r.status).toBe(202);
      stuck.push(r.body!.id as string);
      await died;
    }
    await bank.restart('payment', { ...alone, PAYMENT_FAILPOINTS: '' });
    await new Promise((r) => setTimeout(r, 1_500));
    for (const id of stuck) expect((await paymentOf(alice, id)).status).toBe('pending');
    const listed = await cliJson<{ sagas: { id: string; step: string }[] }>('saga', 'list', '--state', 'checked');
    expect(listed.body.sagas.map((s) => s.id).sort()).toEqual([...stuck].sort());
    expect(await balanceOf(alice, from)).toEqual(expect.objectContaining({ pending: 2_001 }));

    const resumed = await cliJson<{ payment: { id: string; status: string } }>('--reason', 'payment-service crashed', 'saga', 'resume', stuck[0]!);
    expect([resumed.code, resumed.body.payment.status]).toEqual([0, 'completed']);
    const compensated = await cliJson<{ payment: { id: string; status: string } }>('saga', 'compensate', stuck[1]!);
    expect([compensated.code, compensated.body.payment.status]).toEqual([0, 'cancelled']);
    // The money: the deposit less the first payment and the resumed one; nothing held.
    expect(await balanceOf(alice, from)).toEqual(expect.objectContaining({ posted: 100_000 - 2_500 - 1_000, pending: 0 }));
    // An ended saga is neither resumed nor compensated again, and the refusal says so.
    const again = await cliJson<{ error: { message: string } }>('saga', 'resume', stuck[0]!);
    expect(again.code).toBe(1);
    expect(again.body.error.message).toContain('its saga has ended');
    expect((await cliJson<unknown>('saga', 'compensate', stuck[0]!)).code).toBe(1);
    const verify = await cliJson<{ problems: number }>('verify');
    expect([verify.code, verify.body.problems]).toEqual([0, 0]);
    const audit = await cliJson<{ entries: { command: string; reason: string; ok: boolean; arguments: { paymentId: string } }[] }>('audit', 'list');
    expect(audit.body.entries.filter((e) => e.command.startsWith('saga ')).map((e) => [e.command, e.arguments.paymentId, e.ok, e.reason])).toEqual([
      ['saga resume', stuck[0], true, 'payment-service crashed'],
      ['saga compensate', stuck[1], true, ''],
      ['saga resume', stuck[0], false, ''],
      ['saga compensate', stuck[0], false, ''],
    ]);
  }, 120_000);
});
