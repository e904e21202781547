import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { Client } from 'pg';
import { notificationV1, type EventEnvelope } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { BeeQueuePublisher, DependencyHealth, GrpcCaller, checkHealth } from '@bank/platform';
import { TEST_REDIS_URL, captureLogger, createTestDatabase, freePort, startTestSmtp, testQueuePrefix, waitFor, TEST_TLS_DIR, testClient, testIdentity, type TestSmtp } from '@bank/testkit';
import { deliveryId, messageIdOf } from './notifications';

// notification-service as the built process, against a scripted SMTP server of the test's own:
// each recipient's replies are chosen (451 then 250, 550, or a reply held while the worker is
// killed), and every message the server accepted is kept.

const MAIN = path.resolve(__dirname, '..', 'dist', 'main.js');
const SEND_TIMEOUT_MS = 1_000;
const DELIVERY_MS = 30_000;
/** Long enough for a duplicate to have been sent, had there been one. */
const QUIET_MS = 1_500;

interface Accepted {
  readonly to: string;
  readonly mail: ParsedMail;
}

const accepted: Accepted[] = [];
const rcptAttempts = new Map<string, number>();
/** Replies to RCPT TO per address, in order; once used up, 250. */
const scripted = new Map<string, number[]>();
/** Addresses whose DATA is held until released: the send is in progress for as long. */
const held = new Map<string, () => void>();
let onHeld: ((to: string) => void) | undefined;

let smtp: TestSmtp;
const mailHooks: Parameters<typeof startTestSmtp>[0] = {
  onRcptTo(address, _session, callback) {
    const to = address.address;
    rcptAttempts.set(to, (rcptAttempts.get(to) ?? 0) + 1);
    const code = scripted.get(to)?.shift();
    if (code !== undefined && code !== 250) {
      const err = Object.assign(new Error(code >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: code });
      callback(err);
      return;
    }
    callback();
  },
  onData(stream, session, callback) {
    let raw = '';
    stream.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    stream.on('end', () => {
      const to = session.envelope.rcptTo.map((r) => r.address).join(',');
      if (held.has(to)) {
        onHeld?.(to);
        return;
      }
      void simpleParser(raw).then((mail) => {
        accepted.push({ to, mail });
        callback();
      });
    });
  },
};

let service: ChildProcess;
let env: Record<string, string>;
let db: { url: string; drop: () => Promise<void> };
let publisher: BeeQueuePublisher;
let grpcAddr: string;
const { logger } = captureLogger('notification-test');

function start(): ChildProcess {
  const child = spawn(process.execPath, [MAIN], { env, stdio: 'ignore' });
  return child;
}

beforeAll(async () => {
  smtp = await startTestSmtp(mailHooks);
  db = await createTestDatabase('notifications');
  const grpcPort = await freePort();
  grpcAddr = `127.0.0.1:${grpcPort}`;
  const prefix = testQueuePrefix('notifications');
  env = {
    PATH: process.env.PATH ?? '',
    BANK_TLS_DIR: TEST_TLS_DIR,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    NOTIFICATION_DATABASE_URL: db.url,
    NOTIFICATION_GRPC_PORT: String(grpcPort),
    NOTIFICATION_METRICS_PORT: '0',
    SMTP_URL: smtp.url,
    SMTP_SEND_TIMEOUT_MS: String(SEND_TIMEOUT_MS),
    SMTP_MAX_MESSAGES_PER_SECOND: '100',
    EMAIL_MAX_ATTEMPTS: '4',
  };
  service = start();
  await waitFor(() => checkHealth(grpcAddr, testIdentity('bank-cli'), 500), 30_000, 100);
  publisher = new BeeQueuePublisher({ redisUrl: TEST_REDIS_URL, prefix }, new DependencyHealth('redis', logger));
}, 60_000);

afterAll(async () => {
  await publisher.close();
  if (service.exitCode === null && service.signalCode === null) {
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
  }
  await smtp?.close();
  await db.drop();
});

let sequence = 0;
function envelope(type: EventEnvelope['type'], payload: Record<string, unknown>): EventEnvelope {
  return { id: newId(), type, aggregateId: newId(), sequence: ++sequence, occurredAt: new Date().toISOString(), traceparent: '', payload };
}

async function register(fullName: string): Promise<{ userId: string; email: string }> {
  const userId = newId();
  const email = `u${userId.slice(-8)}@example.com`;
  await publisher.publish('notification-service', [envelope('user.registered', { userId, email, fullName })]);
  return { userId, email };
}

const mailTo = (email: string) => accepted.filter((m) => m.to === email);

async function deliveryRow(id: string): Promise<{ status: string; attempts: number } | undefined> {
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  try {
    return (await pg.query<{ status: string; attempts: number }>('SELECT status, attempts FROM deliveries WHERE id = $1', [id])).rows[0];
  } finally {
    await pg.end();
  }
}

describe('notification-service', () => {
  it('sends one email to each party of a payment, with the amount per currency, names escaped and the other account masked; a duplicate event sends nothing', async () => {
    const alice = await register('<img src=x onerror=alert(1)>');
    const bob = await register('Bob Example');
    await waitFor(async () => mailTo(alice.email).length === 1 && mailTo(bob.email).length === 1, DELIVERY_MS);
    const [from, to] = [newId(), newId()];
    const paid = envelope('payment.completed', {
      paymentId: newId(), sourceAccountId: from, destinationAccountId: to, amount: '1050', currency: 'USD', status: 'completed', failureCode: '', sourceOwnerId: alice.userId, destinationOwnerId: bob.userId, description: 'lunch',
    });
    await publisher.publish('notification-service', [paid]);
    await waitFor(async () => mailTo(alice.email).length === 2 && mailTo(bob.email).length === 2, DELIVERY_MS);
    const sent = mailTo(alice.email)[1]!.mail;
    const received = mailTo(bob.email)[1]!.mail;
    expect(sent.subject).toBe('You sent $10.50');
    expect(received.subject).toBe('You received $10.50');
    expect(received.text).toContain(`you received $10.50 from account ••••${from.slice(-4)}.`);
    expect(`${received.text}${received.html}`).not.toContain(from);
    expect(`${sent.text}${sent.html}`).not.toContain(to);
    // The name is text in the HTML part, never markup.
    expect(sent.html).toContain('<p>Hello &lt;img src=x onerror=alert(1)&gt;,</p>');
    expect(sent.html).not.toContain('<img');
    expect(sent.messageId).toBe(messageIdOf(deliveryId(paid.id, alice.userId, 'payment_sent')));

    // The same event again (a redelivery) and a JPY deposit: only the deposit's email follows.
    await publisher.publish('notification-service', [{ ...paid }]);
    await publisher.publish('notification-service', [envelope('account.opened', { accountId: to, ownerId: bob.userId, currency: 'JPY' })]);
    await publisher.publish('notification-service', [envelope('deposit.completed', { depositId: newId(), accountId: to, ownerId: bob.userId, amount: '1050', currency: 'JPY', reference: 'cash' })]);
    await waitFor(async () => mailTo(bob.email).length === 3, DELIVERY_MS);
    expect(mailTo(bob.email)[2]!.mail.subject).toBe('¥1,050 was deposited');
    await new Promise((r) => setTimeout(r, QUIET_MS));
    expect([mailTo(alice.email).length, mailTo(bob.email).length]).toEqual([2, 3]);

    const log = await new GrpcCaller().unary<notificationV1.ListNotificationsResponse>(
      (md, o, cb) => testClient(notificationV1.NotificationServiceClient, grpcAddr).listNotifications({ userId: alice.userId, limit: 10, cursor: '' }, md, o, cb),
    );
    expect(log.notifications.map((n) => [n.template, n.status])).toEqual([
      ['payment_sent', 'sent'],
      ['welcome', 'sent'],
    ]);
  }, 60_000);

  it('retries a 451 and delivers once; records a 550 as failed without retrying', async () => {
    const carol = await register('Carol');
    const dan = await register('Dan');
    scripted.set(carol.email, [451]);
    scripted.set(dan.email, [550]);
    const opened = [envelope('account.opened', { accountId: newId(), ownerId: carol.userId, currency: 'EUR' }), envelope('account.opened', { accountId: newId(), ownerId: dan.userId, currency: 'EUR' })];
    await publisher.publish('notification-service', opened);
    // Their welcome emails: Carol's after one retry, Dan's never.
    await waitFor(async () => mailTo(carol.email).length === 1, DELIVERY_MS);
    const danDelivery = deliveryId(await welcomeEventOf(dan.userId), dan.userId, 'welcome');
    await waitFor(async () => (await deliveryRow(danDelivery))?.status === 'failed', DELIVERY_MS);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    expect(rcptAttempts.get(carol.email)).toBe(2);
    expect(mailTo(carol.email)).toHaveLength(1);
    expect(rcptAttempts.get(dan.email)).toBe(1);
    expect(mailTo(dan.email)).toHaveLength(0);
    expect(await deliveryRow(danDelivery)).toEqual({ status: 'failed', attempts: 1 });
  }, 60_000);

  it('delivers exactly one email after the worker is SIGKILLed in the middle of sending it', async () => {
    const erin = await register('Erin');
    held.set(erin.email, () => undefined);
    const inFlight = new Promise<void>((resolve) => (onHeld = (to) => to === erin.email && resolve()));
    await publisher.publish('notification-service', [envelope('account.opened', { accountId: newId(), ownerId: erin.userId, currency: 'USD' })]);
    // The welcome email is being sent (the server holds its DATA): the worker dies now.
    await inFlight;
    const killed = new Promise((r) => service.once('exit', r));
    service.kill('SIGKILL');
    await killed;
    held.delete(erin.email);
    service = start();
    await waitFor(() => checkHealth(grpcAddr, testIdentity('bank-cli'), 500), 30_000, 100);
    await waitFor(async () => mailTo(erin.email).length === 1, DELIVERY_MS);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    expect(mailTo(erin.email)).toHaveLength(1);
    expect(await deliveryRow(deliveryId(await welcomeEventOf(erin.userId), erin.userId, 'welcome'))).toEqual({ status: 'sent', attempts: 2 });
  }, 90_000);
});

async function welcomeEventOf(userId: string): Promise<string> {
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  try {
    return (await pg.query<{ event_id: string }>("SELECT event_id FROM deliveries WHERE user_id = $1 AND template = 'welcome'", [userId])).rows[0]!.event_id;
  } finally {
    await pg.end();
  }
}
