import { CONSUMERS, consumersOf, type EventEnvelope } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { TEST_REDIS_URL, captureLogger, createTestDatabase, testQueuePrefix, waitFor } from '@bank/testkit';
import { Database } from './db';
import { DependencyHealth } from './dependency';
import { EventConsumer, handleEvent, listDeadLetters, requeueDeadLetter, wakeUp, type EventHandlers } from './inbox';
import { platformMigrations } from './migrations';
import { BATCH_ROW_TYPE, OutboxRelay, appendToOutbox, outboxBatchRow, type NewEvent } from './outbox';
import IORedis from 'ioredis';
import { BeeQueuePublisher, MAX_DELIVERIES, MAX_RETRIES, createEventQueue, deliveryCounterKey, dropQueueNamespace, queueBacklogs, type EventPublisher, type QueueConnection } from './queue';

const { logger } = captureLogger('messaging-test');
const health = { database: new DependencyHealth('postgres', logger), redis: new DependencyHealth('redis', logger) };
let db: Database;
let drop: () => Promise<void>;

beforeAll(async () => {
  const t = await createTestDatabase('messaging');
  drop = t.drop;
  db = await Database.open({ clientUrl: t.url, migrations: platformMigrations, logger, poolMax: 8 });
  await db.migrate();
  await db.transaction((c) => c.query('CREATE TABLE effects (event_id uuid NOT NULL, account_id text NOT NULL)'));
});

afterAll(async () => {
  await db.close();
  await drop();
});

beforeEach(async () => {
  await db.transaction((c) => c.query('TRUNCATE outbox, inbox, dead_letter, effects'));
});

function opened(n: number): NewEvent<'account.opened'>[] {
  return Array.from({ length: n }, () => {
    const accountId = newId();
    return { type: 'account.opened' as const, aggregateId: accountId, payload: { accountId, ownerId: newId(), currency: 'USD' } };
  });
}

async function append(events: NewEvent[]): Promise<void> {
  await db.transaction((c) => appendToOutbox(c, events));
}

async function unpublishedCount(): Promise<number> {
  const { rows } = await db.transaction((c) => c.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL'));
  return Number(rows[0]?.n);
}

/** Records every envelope handed to it, per consumer, and can fail after publishing. */
class RecordingPublisher implements EventPublisher {
  readonly published: { consumer: string; id: string }[] = [];
  crashAfterPublishing = 0;
  constructor(private readonly inner?: EventPublisher) {}
  async publish(consumer: Parameters<EventPublisher['publish']>[0], envelopes: readonly EventEnvelope[]): Promise<void> {
    if (this.inner) await this.inner.publish(consumer, envelopes);
    for (const e of envelopes) this.published.push({ consumer, id: e.id });
    if (this.crashAfterPublishing > 0) {
      this.crashAfterPublishing--;
      throw new Error('simulated crash between publish and mark');
    }
  }
  async resetDeliveries(consumer: Parameters<EventPublisher['resetDeliveries']>[0], ids: readonly string[]): Promise<void> {
    await this.inner?.resetDeliveries(consumer, ids);
  }
}

const applyEffect: EventHandlers = {
  'account.opened': async (payload, envelope, tx) => {
    await tx.sql.query('INSERT INTO effects (event_id, account_id) VALUES ($1, $2)', [envelope.id, payload.accountId]);
  },
};

async function effectCounts(): Promise<Map<string, number>> {
  const { rows } = await db.transaction((c) => c.query<{ event_id: string; n: string }>('SELECT event_id, count(*) AS n FROM effects GROUP BY event_id'));
  return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
}

describe('outbox relay', () => {
  it('fans each committed event out to every consuming service once and marks it published', async () => {
    await append(opened(3));
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay(db, publisher, health, 100);
    expect(await relay.relayOnce()).toBe(3);
    expect(await relay.relayOnce()).toBe(0);
    expect(await unpublishedCount()).toBe(0);
    // account.opened goes to the services that consume it (the ledger, payments, notifications), once each.
    expect(publisher.published).toHaveLength(3 * consumersOf('account.opened').length);
    expect(new Set(publisher.published.map((p) => p.consumer))).toEqual(new Set(consumersOf('account.opened')));
  });

  it('routes events to the queues of services that consume them only, and leaves no finished job in Redis', async () => {
    const prefix = testQueuePrefix('routing');
    const conn: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix };
    const redis = new IORedis(TEST_REDIS_URL);
    const publisher = new BeeQueuePublisher(conn, health.redis);
    const consumer = new EventConsumer('transaction-service', db, applyEffect, conn, logger, health, 2);
    consumer.start();
    try {
      const userId = newId();
      // account.opened goes to the ledger, payments and notifications; user.registered to users and notifications.
      await append([...opened(4), { type: 'user.registered', aggregateId: userId, payload: { userId, email: 'a@example.com', fullName: 'A' } }]);
      const paymentId = newId();
      // payment.cancelled is consumed by nobody: it goes to no queue.
      await append([{ type: 'payment.cancelled', aggregateId: paymentId, payload: { paymentId, sourceAccountId: newId(), destinationAccountId: newId(), amount: 5n, currency: 'USD', status: 'cancelled', failureCode: '', sourceOwnerId: newId(), destinationOwnerId: newId(), description: '' } }]);
      const relay = new OutboxRelay(db, publisher, health, 100);
      expect(await relay.relayOnce()).toBe(6);
      await waitFor(async () => (await effectCounts()).size === 4);
      // Applied jobs leave Redis; the copies for services not running here wait in their queues.
      await waitFor(async () => (await redis.hlen(`${prefix}:events:transaction-service:jobs`)) === 0);
      const backlogs = new Map((await queueBacklogs(conn, health.redis)).map((b) => [b.consumer, b]));
      expect(backlogs.get('transaction-service')).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
      expect(backlogs.get('user-service')).toMatchObject({ waiting: 1 });
      expect(backlogs.get('payment-service')).toMatchObject({ waiting: 4 });
      expect(backlogs.get('notification-service')).toMatchObject({ waiting: 5 });
      const queued = await Promise.all(CONSUMERS.map(async (c) => Number(await redis.hlen(`${prefix}:events:${c}:jobs`))));
      // Every job in Redis is one of the 4 + 1 events for a consumer of its type: none for payment.cancelled.
      expect(queued.reduce((a, b) => a + b, 0)).toBe(1 + 4 + 5);
    } finally {
      await consumer.stop();
      await publisher.close();
      await dropQueueNamespace(conn);
      redis.disconnect();
    }
  });

  it('publishes each event of a many-event row as its own envelope, in order', async () => {
    const events = opened(3);
    // As the ledger's batch statement writes it: all the events in one row.
    const row = outboxBatchRow(events);
    await db.sql.query("INSERT INTO outbox (id, type, aggregate_id, occurred_at, payload) VALUES ($1, $2, '', $3, $4)", [row.id, BATCH_ROW_TYPE, row.occurredAt, row.payload]);
    const { rows } = await db.transaction((c) => c.query<{ n: string }>('SELECT count(*) AS n FROM outbox'));
    expect(rows[0]?.n).toBe('1');
    const seen: EventEnvelope[] = [];
    const relay = new OutboxRelay(db, { publish: async (consumer, envelopes) => void (consumer === 'transaction-service' && seen.push(...envelopes)), resetDeliveries: async () => undefined }, health, 100);
    expect(await relay.relayOnce()).toBe(1);
    expect(seen.map((e) => (e.payload as { accountId: string }).accountId)).toEqual(events.map((e) => e.payload.accountId));
    expect(new Set(seen.map((e) => e.id)).size).toBe(3);
    expect(seen.map((e) => e.sequence)).toEqual([...seen.map((e) => e.sequence)].sort((a, b) => a - b));
    expect(seen[0]!.sequence).toBeLessThan(seen[1]!.sequence);
  });

  it('does not publish what a rolled-back transaction wrote', async () => {
    await expect(
      db.transaction(async (c) => {
        await appendToOutbox(c, opened(2));
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await unpublishedCount()).toBe(0);
  });

  it('a crash between publish and mark gives a duplicate, never a loss, and the inbox applies it once', async () => {
    const prefix = testQueuePrefix('relay-crash');
    const conn: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix };
    const real = new BeeQueuePublisher(conn, health.redis);
    const publisher = new RecordingPublisher(real);
    const consumer = new EventConsumer('transaction-service', db, applyEffect, conn, logger, health, 4);
    consumer.start();
    try {
      const events = opened(20);
      await append(events);
      const relay = new OutboxRelay(db, publisher, health, 100);
      publisher.crashAfterPublishing = 1;
      await expect(relay.relayOnce()).rejects.toThrow('simulated crash');
      expect(await unpublishedCount()).toBe(20);
      // Let the first copies be consumed, so the re-published ones are real second deliveries.
      await waitFor(async () => (await effectCounts()).size === 20);
      expect(await relay.relayOnce()).toBe(20);
      expect(await unpublishedCount()).toBe(0);
      const toLedger = publisher.published.filter((p) => p.consumer === 'transaction-service');
      expect(toLedger).toHaveLength(40);
      await new Promise((r) => setTimeout(r, 500));
      const counts = await effectCounts();
      expect(counts.size).toBe(20);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await consumer.stop();
      await real.close();
    }
  });

  it('two relays racing never publish the same row twice', async () => {
    await append(opened(1500));
    const second = await Database.open({ clientUrl: (db.orm.config.get('clientUrl') as string), migrations: platformMigrations, logger, poolMax: 4 });
    try {
      const publisher = new RecordingPublisher();
      const slow: EventPublisher = {
        publish: async (consumer, envelopes) => {
          await new Promise((r) => setTimeout(r, 5));
          await publisher.publish(consumer, envelopes);
        },
        resetDeliveries: async () => undefined,
      };
      const relays = [new OutboxRelay(db, slow, health, 50), new OutboxRelay(second, slow, health, 50), new OutboxRelay(db, slow, health, 50)];
      const moved = await Promise.all(
        relays.map(async (r) => {
          let total = 0;
          for (let n = await r.relayOnce(); n > 0; n = await r.relayOnce()) total += n;
          return total;
        }),
      );
      expect(moved.reduce((a, b) => a + b, 0)).toBe(1500);
      expect(moved.filter((n) => n > 0).length).toBeGreaterThan(1);
      const ledger = publisher.published.filter((p) => p.consumer === 'transaction-service').map((p) => p.id);
      expect(ledger).toHaveLength(1500);
      expect(new Set(ledger).size).toBe(1500);
    } finally {
      await second.close();
    }
  });
});

describe('queue namespaces', () => {
  it('dropping a namespace removes its queues and jobs and nothing else', async () => {
    const mine: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix: testQueuePrefix('drop-mine') };
    const other: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix: testQueuePrefix('drop-other') };
    const publishers = [new BeeQueuePublisher(mine, health.redis), new BeeQueuePublisher(other, health.redis)];
    const events = opened(3).map((e, i) => ({ id: newId(), type: e.type, aggregateId: e.aggregateId, sequence: i, occurredAt: new Date().toISOString(), traceparent: '', payload: e.payload }));
    for (const p of publishers) await p.publish('transaction-service', events);
    await Promise.all(publishers.map((p) => p.close()));
    expect(await dropQueueNamespace(mine)).toBeGreaterThan(0);
    expect(await dropQueueNamespace(mine)).toBe(0);
    // The other namespace was untouched: its keys are still there to drop.
    expect(await dropQueueNamespace(other)).toBeGreaterThan(0);
  });
});

describe('inbox', () => {
  const envelope = (): EventEnvelope => {
    const accountId = newId();
    return { id: newId(), type: 'account.opened', aggregateId: accountId, sequence: 1, occurredAt: new Date().toISOString(), traceparent: '', payload: { accountId, ownerId: newId(), currency: 'USD' } };
  };

  it('runs a wake-up handler for every delivery, duplicates included, and writes no inbox row', async () => {
    const prefix = testQueuePrefix('wakeup');
    const conn: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix };
    const redis = new IORedis(TEST_REDIS_URL);
    const publisher = new BeeQueuePublisher(conn, health.redis);
    const woken: string[] = [];
    const consumer = new EventConsumer('transaction-service', db, { 'account.opened': wakeUp<'account.opened'>((p, e) => void woken.push(`${e.id}:${p.accountId}`)) }, conn, logger, health, 2);
    consumer.start();
    try {
      const events = opened(3);
      await append(events);
      // Published twice (a relay's crash between publish and mark): a wake-up runs for each copy.
      const relay = new OutboxRelay(db, new RecordingPublisher(publisher), health, 100);
      const rows = await db.transaction((c) => c.query<{ position: string }>('SELECT position FROM outbox'));
      expect(await relay.relayOnce()).toBe(3);
      // The copies are published once the first ones are done (a job id still in Redis is not queued twice).
      await waitFor(async () => woken.length === 3 && (await redis.hlen(`${prefix}:events:transaction-service:jobs`)) === 0);
      await db.transaction((c) => c.query('UPDATE outbox SET published_at = NULL WHERE position = ANY($1::bigint[])', [rows.rows.map((r) => r.position)]));
      expect(await relay.relayOnce()).toBe(3);
      await waitFor(async () => woken.length === 6);
      expect(new Set(woken.map((w) => w.split(':')[1]))).toEqual(new Set(events.map((e) => e.payload.accountId)));
      const { rows: inbox } = await db.transaction((c) => c.query<{ n: string }>('SELECT count(*) AS n FROM inbox'));
      expect(Number(inbox[0]?.n)).toBe(0);
      await waitFor(async () => (await redis.hlen(`${prefix}:events:transaction-service:jobs`)) === 0);
    } finally {
      await consumer.stop();
      await publisher.close();
      await dropQueueNamespace(conn);
      redis.disconnect();
    }
  });

  it('applies a duplicate event once, also when both copies arrive at the same time', async () => {
    const e = envelope();
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => handleEvent(db, 'transaction-service', applyEffect, e, { lastAttempt: false, attempts: 1, logger })));
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(4);
    expect(await handleEvent(db, 'transaction-service', applyEffect, e, { lastAttempt: false, attempts: 2, logger })).toBe('duplicate');
    expect((await effectCounts()).get(e.id)).toBe(1);
  });

  it('leaves no inbox row when the handler fails, so a retry can apply it', async () => {
    const e = envelope();
    let failures = 1;
    const flaky: EventHandlers = {
      'account.opened': async (p, env, c) => {
        await applyEffect['account.opened']!(p, env, c);
        if (failures-- > 0) throw new Error('transient');
      },
    };
    await expect(handleEvent(db, 'transaction-service', flaky, e, { lastAttempt: false, attempts: 1, logger })).rejects.toThrow('transient');
    expect(await effectCounts()).toEqual(new Map());
    expect(await handleEvent(db, 'transaction-service', flaky, e, { lastAttempt: false, attempts: 2, logger })).toBe('applied');
    expect((await effectCounts()).get(e.id)).toBe(1);
  });

  it('dead-letters a poison event after its last attempt, and requeue delivers it again', async () => {
    const prefix = testQueuePrefix('dead-letter');
    const conn: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix };
    let poisoned = true;
    const handlers: EventHandlers = {
      'account.opened': async (p, env, c) => {
        if (poisoned) throw new Error('cannot apply');
        await applyEffect['account.opened']!(p, env, c);
      },
    };
    const publisher = new BeeQueuePublisher(conn, health.redis);
    const consumer = new EventConsumer('transaction-service', db, handlers, conn, logger, health, 2);
    consumer.start();
    try {
      const e = envelope();
      // Fewer retries than production so that the test finishes quickly; the path is the same.
      const q = createEventQueue('transaction-service', conn, 'producer', health.redis);
      await q.createJob(e).setId(e.id).retries(2).backoff('fixed', 50).save();
      const letters = await waitFor(async () => {
        const l = await listDeadLetters(db);
        return l.length > 0 ? l : undefined;
      });
      expect(letters[0]).toMatchObject({ consumer: 'transaction-service', eventId: e.id, type: 'account.opened', error: 'Error: cannot apply' });
      expect(letters[0]!.failedAt).toBeInstanceOf(Date);
      expect(await effectCounts()).toEqual(new Map());
      poisoned = false;
      expect(await requeueDeadLetter(db, publisher, letters[0]!.id)).toBe(true);
      expect(await requeueDeadLetter(db, publisher, letters[0]!.id)).toBe(false);
      await waitFor(async () => (await effectCounts()).get(e.id) === 1);
      expect(await listDeadLetters(db)).toEqual([]);
      await q.close();
    } finally {
      await consumer.stop();
      await publisher.close();
    }
  });

  it('gives a requeued dead letter a full retry budget, whatever delivery count it had left behind', async () => {
    const prefix = testQueuePrefix('requeue-budget');
    const conn: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix };
    const redis = new IORedis(TEST_REDIS_URL);
    let attempts = 0;
    const handlers: EventHandlers = {
      'account.opened': async () => {
        attempts++;
        throw new Error('still poisoned');
      },
    };
    const publisher = new BeeQueuePublisher(conn, health.redis);
    const consumer = new EventConsumer('transaction-service', db, handlers, conn, logger, health, 2);
    consumer.start();
    try {
      const e = envelope();
      const letterId = newId();
      await db.transaction((c) =>
        c.query("INSERT INTO dead_letter (id, consumer, event_id, event, error, attempts) VALUES ($1, 'transaction-service', $2, $3, 'Error: boom', $4)", [letterId, e.id, JSON.stringify(e), MAX_RETRIES + 1]),
      );
      // A count its first round left behind (a crash before it was cleared), one short of the cap.
      await redis.set(deliveryCounterKey(conn, 'transaction-service', e.id), String(MAX_DELIVERIES - 1));
      expect(await requeueDeadLetter(db, publisher, letterId)).toBe(true);
      const again = await waitFor(async () => (await listDeadLetters(db)).find((l) => l.eventId === e.id), 30_000, 100);
      // Every retry of a fresh budget was tried, and the dead letter says so.
      expect(attempts).toBe(MAX_RETRIES + 1);
      expect(again).toMatchObject({ attempts: MAX_RETRIES + 1, error: 'Error: still poisoned' });
    } finally {
      await consumer.stop();
      await publisher.close();
      await dropQueueNamespace(conn);
      redis.disconnect();
    }
  }, 45_000);
});
