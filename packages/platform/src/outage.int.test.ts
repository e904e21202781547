import type { EventEnvelope } from '@bank/contracts';
import { newId } from '@bank/kernel';
import { blockDatabase, captureLogger, createTestDatabase, startTestRedis, TEST_REDIS_URL, testQueuePrefix, waitFor, type TestRedis } from '@bank/testkit';
import { Database } from './db';
import { DependencyHealth } from './dependency';
import { EventConsumer, type EventHandlers } from './inbox';
import { platformMigrations } from './migrations';
import { OutboxRelay, appendToOutbox, type NewEvent } from './outbox';
import { BeeQueuePublisher, dropQueueNamespace, type QueueConnection } from './queue';

// Real outages on the event path: a redis-server of this suite's own, stopped and started while
// events are written; the consumer's database made unreachable while events queue up. Nothing
// may be lost, applied twice, dead-lettered for the outage, or crash the process, and each
// outage is logged once when it starts and once when it ends.

/** Longer than a job's whole retry budget (about 6.2 s of back-off), so that spending it would show. */
const DATABASE_OUTAGE_MS = 10_000;
const REDIS_OUTAGE_MS = 6_000;
const DRAIN_TIMEOUT_MS = 30_000;

const applyEffect: EventHandlers = {
  'account.opened': async (payload, envelope, tx) => {
    await tx.sql.query('INSERT INTO effects (event_id, account_id) VALUES ($1, $2)', [envelope.id, payload.accountId]);
  },
};

function opened(n: number): NewEvent<'account.opened'>[] {
  return Array.from({ length: n }, () => {
    const accountId = newId();
    return { type: 'account.opened' as const, aggregateId: accountId, payload: { accountId, ownerId: newId(), currency: 'USD' } };
  });
}

async function openDatabase(label: string, logger: ReturnType<typeof captureLogger>['logger']) {
  const t = await createTestDatabase(label);
  const db = await Database.open({ clientUrl: t.url, migrations: platformMigrations, logger, poolMax: 8 });
  await db.migrate();
  await db.transaction((c) => c.query('CREATE TABLE effects (event_id uuid NOT NULL, account_id text NOT NULL)'));
  return { db, url: t.url, drop: t.drop };
}

async function effectCounts(db: Database): Promise<number[]> {
  const { rows } = await db.transaction((c) => c.query<{ n: string }>('SELECT count(*) AS n FROM effects GROUP BY event_id'));
  return rows.map((r) => Number(r.n));
}

async function count(db: Database, sql: string): Promise<number> {
  const { rows } = await db.transaction((c) => c.query<{ n: string }>(sql));
  return Number(rows[0]?.n);
}

const linesLike = (lines: readonly string[], text: string) => lines.filter((l) => l.includes(text)).length;

describe('events through a Redis outage (a redis-server of this test, stopped and started)', () => {
  let redis: TestRedis;
  const { logger, lines } = captureLogger('outage-test');
  const health = { database: new DependencyHealth('postgres', logger), redis: new DependencyHealth('redis', logger) };
  let store: Awaited<ReturnType<typeof openDatabase>>;
  let conn: QueueConnection;

  beforeAll(async () => {
    redis = await startTestRedis();
    store = await openDatabase('outage_redis', logger);
    conn = { redisUrl: redis.url, prefix: testQueuePrefix('outage-redis') };
  });

  afterAll(async () => {
    await store.db.close();
    await store.drop();
    await redis.dispose();
  });

  it('keeps writing, publishes nothing twice and loses nothing; the relay resumes by itself; one log line each way', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    const publisher = new BeeQueuePublisher(conn, health.redis, 1_000);
    const relay = new OutboxRelay(store.db, publisher, health, 100, 50);
    const consumer = new EventConsumer('transaction-service', store.db, applyEffect, conn, logger, health, 4);
    try {
      relay.start();
      consumer.start();
      await store.db.transaction((c) => appendToOutbox(c, opened(10)));
      await waitFor(async () => (await effectCounts(store.db)).length === 10, DRAIN_TIMEOUT_MS, 50);

      await redis.stop();
      // Business writes need no Redis: they keep committing while it is away.
      for (let i = 0; i < 4; i++) {
        await store.db.transaction((c) => appendToOutbox(c, opened(5)));
        await new Promise((r) => setTimeout(r, REDIS_OUTAGE_MS / 4));
      }
      expect(await count(store.db, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')).toBe(20);
      expect(linesLike(lines, 'redis unavailable')).toBe(1);
      expect(health.redis.up).toBe(false);

      await redis.start();
      await waitFor(async () => (await effectCounts(store.db)).length === 30, DRAIN_TIMEOUT_MS, 100);
      await new Promise((r) => setTimeout(r, 500));
      const counts = await effectCounts(store.db);
      expect([counts.length, counts.every((n) => n === 1)]).toEqual([30, true]);
      expect(await count(store.db, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL')).toBe(0);
      expect(await count(store.db, 'SELECT count(*) AS n FROM dead_letter')).toBe(0);
      expect(linesLike(lines, 'redis unavailable')).toBe(1);
      expect(linesLike(lines, 'redis available again')).toBe(1);
      expect(health.redis.retries).toBeGreaterThan(1);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      await relay.stop();
      await consumer.stop();
      await publisher.close();
      await dropQueueNamespace(conn);
    }
  }, 60_000);
});

describe("events through the consumer's database outage (ALLOW_CONNECTIONS false, sessions terminated)", () => {
  const { logger, lines } = captureLogger('outage-db-test');
  const health = { database: new DependencyHealth('postgres', logger), redis: new DependencyHealth('redis', logger) };
  let store: Awaited<ReturnType<typeof openDatabase>>;
  const conn: QueueConnection = { redisUrl: TEST_REDIS_URL, prefix: testQueuePrefix('outage-db') };

  beforeAll(async () => {
    store = await openDatabase('outage_db', logger);
  });

  afterAll(async () => {
    await store.db.close();
    await store.drop();
    await dropQueueNamespace(conn);
  });

  it('holds the jobs while the database is away, then applies every one once; none is dead-lettered or lost', async () => {
    const publisher = new BeeQueuePublisher(conn, health.redis);
    const consumer = new EventConsumer('transaction-service', store.db, applyEffect, conn, logger, health, 4);
    const envelopes: EventEnvelope[] = opened(20).map((e, i) => ({
      id: newId(),
      type: e.type,
      aggregateId: e.aggregateId,
      sequence: i,
      occurredAt: new Date().toISOString(),
      traceparent: '',
      payload: e.payload,
    }));
    consumer.start();
    try {
      const unblock = await blockDatabase(store.url);
      try {
        await publisher.publish('transaction-service', envelopes);
        await new Promise((r) => setTimeout(r, DATABASE_OUTAGE_MS));
        expect(health.database.up).toBe(false);
        expect(linesLike(lines, 'postgres unavailable')).toBe(1);
      } finally {
        await unblock();
      }
      await waitFor(async () => (await effectCounts(store.db)).length === 20, DRAIN_TIMEOUT_MS, 100);
      await new Promise((r) => setTimeout(r, 500));
      const counts = await effectCounts(store.db);
      expect([counts.length, counts.every((n) => n === 1)]).toEqual([20, true]);
      expect(await count(store.db, 'SELECT count(*) AS n FROM dead_letter')).toBe(0);
      expect(linesLike(lines, 'postgres available again')).toBe(1);
      expect(lines.filter((l) => l.includes('"level":50') || l.includes('ERROR'))).toEqual([]);
    } finally {
      await consumer.stop();
      await publisher.close();
    }
  }, 60_000);
});
