import type { Transporter } from 'nodemailer';
import { ManualClock, newId } from '@bank/kernel';
import type { Database } from '@bank/platform';
import { captureLogger, openTestDatabase } from '@bank/testkit';
import { notificationMigrations } from './migrations';
import { DeliverySchema, NOTIFICATION_ENTITIES } from './entities';
import { EmailSender } from './notifications';

// The delivery log's claim: of workers racing for one email, one sends it; a claim older than
// the lease is a dead worker's and is taken over; a delivery already sent is not sent again.

const { logger } = captureLogger('notification-sender');
const LEASE_MS = 10_000;
let db: Database;
let close: () => Promise<void>;
const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
const sent: string[] = [];
let release: (() => void) | undefined;
/** A transport that records each message and, while `hold` is set, waits to be released before answering. */
let hold = false;
const transport = {
  sendMail: async (m: { to: string }) => {
    sent.push(m.to);
    if (hold) await new Promise<void>((r) => (release = r));
    return {};
  },
} as unknown as Transporter;

beforeAll(async () => {
  ({ db, close } = await openTestDatabase('notification_sender', { migrations: notificationMigrations, entities: NOTIFICATION_ENTITIES, logger }));
});

afterAll(async () => {
  await close?.();
});

const sender = () => new EmailSender(db, clock, transport, { from: 'bank@example.com', maxAttempts: 3, leaseMs: LEASE_MS }, logger);

async function queued(email: string): Promise<string> {
  const id = newId();
  await db.em().insert(DeliverySchema, { id, eventId: newId(), userId: newId(), template: 'welcome', email, data: { name: 'Erin' }, status: 'queued', attempts: 0, error: null, claimedAt: null, enqueuedAt: null, messageId: null, createdAt: clock.now(), sentAt: null, traceparent: '' });
  return id;
}

const row = (id: string) => db.em().findOneOrFail(DeliverySchema, { id });

describe('EmailSender', () => {
  it('sends an email once when workers race for it, and records it sent with its Message-ID', async () => {
    const id = await queued('race@example.com');
    const outcomes = await Promise.all([sender().send(id), sender().send(id), sender().send(id)]);
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(1);
    expect(sent.filter((to) => to === 'race@example.com')).toHaveLength(1);
    expect(await row(id)).toMatchObject({ status: 'sent', attempts: 1, messageId: `<${id}@notifications.bank.local>`, sentAt: clock.now() });
    expect(await sender().send(id)).toBe('already-done');
  });

  it('leaves a claim inside its lease alone, and takes over one older than the lease', async () => {
    const id = await queued('lease@example.com');
    hold = true;
    const first = sender().send(id);
    await new Promise<void>((r) => {
      const poll = () => (release ? r() : setTimeout(poll, 5));
      poll();
    });
    hold = false;
    expect(await sender().send(id)).toBe('in-flight-elsewhere');
    clock.advance(LEASE_MS + 1);
    // The first worker is, as far as the log can tell, dead: another takes the delivery over.
    expect(await sender().send(id)).toBe('sent');
    expect(await row(id)).toMatchObject({ status: 'sent', attempts: 2 });
    release?.();
    await first;
    expect(sent.filter((to) => to === 'lease@example.com')).toHaveLength(2);
  });
});
