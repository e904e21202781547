import IORedis from 'ioredis';
import { decodePayload, type Consumer, type EventEnvelope, type EventPayload, type EventType, isEventType } from '@bank/contracts';
import { newId } from '@bank/kernel';
import type { Database, SqlClient } from './db';
import type { Logger } from './logger';
import { createEventQueue, MAX_DELIVERIES, QUEUE_PREFIX, type EventPublisher, type EventQueue, type QueueConnection } from './queue';

export const DEFAULT_CONSUMER_CONCURRENCY = 8;
const DELIVERY_COUNTER_TTL_S = 24 * 3600;
export const DEAD_LETTER_PAGE_SIZE = 100;

export type EventHandler<T extends EventType> = (payload: EventPayload<T>, envelope: EventEnvelope, client: SqlClient) => Promise<void>;
export type EventHandlers = { [T in EventType]?: EventHandler<T> };

/**
 * Claims an event for a consumer inside the caller's transaction. False means it was processed
 * before: the effect is already committed and must not be applied again.
 */
export async function claimInbox(client: SqlClient, consumer: Consumer, eventId: string): Promise<boolean> {
  const res = await client.query('INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [consumer, eventId]);
  return res.rowCount === 1;
}

export type HandleOutcome = 'applied' | 'duplicate' | 'ignored' | 'dead-lettered';

/**
 * Applies one event exactly once: the inbox row and the handler's effect commit in one
 * transaction. An event that keeps failing goes to the dead-letter table after the last retry.
 */
export async function handleEvent(
  db: Database,
  consumer: Consumer,
  handlers: EventHandlers,
  envelope: EventEnvelope,
  opts: { lastAttempt: boolean; attempts: number; logger: Logger },
): Promise<HandleOutcome> {
  const handler = isEventType(envelope.type) ? (handlers[envelope.type] as EventHandler<EventType> | undefined) : undefined;
  if (!handler) {
    opts.logger.warn({ eventId: envelope.id, type: envelope.type }, 'no handler for event type; ignored');
    return 'ignored';
  }
  try {
    return await db.transaction(async (client) => {
      if (!(await claimInbox(client, consumer, envelope.id))) return 'duplicate';
      await handler(decodePayload(envelope.type, envelope.payload), envelope, client);
      return 'applied';
    });
  } catch (e) {
    if (!opts.lastAttempt) throw e;
    await deadLetter(db, consumer, envelope, e, opts.attempts);
    opts.logger.error({ err: e, eventId: envelope.id, type: envelope.type }, 'event dead-lettered after its last attempt');
    return 'dead-lettered';
  }
}

async function deadLetter(db: Database, consumer: Consumer, envelope: EventEnvelope, error: unknown, attempts: number): Promise<void> {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  await db.transaction((c) =>
    c.query('INSERT INTO dead_letter (id, consumer, event_id, event, error, attempts) VALUES ($1, $2, $3, $4, $5, $6)', [
      newId(),
      consumer,
      envelope.id,
      JSON.stringify(envelope),
      message.slice(0, 4000),
      attempts,
    ]),
  );
}

/**
 * A service's event consumer: a bee-queue worker on its own queue. Deliveries are counted in
 * Redis because bee-queue re-queues a job whose worker crashed forever; past MAX_DELIVERIES the
 * event is dead-lettered instead of crashing workers in a loop.
 */
export class EventConsumer {
  private queue: EventQueue | undefined;
  private redis: IORedis | undefined;

  constructor(
    private readonly consumer: Consumer,
    private readonly db: Database,
    private readonly handlers: EventHandlers,
    private readonly conn: QueueConnection,
    private readonly logger: Logger,
    private readonly concurrency: number = DEFAULT_CONSUMER_CONCURRENCY,
  ) {}

  start(): void {
    this.redis = new IORedis(this.conn.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
    this.queue = createEventQueue(this.consumer, this.conn, 'worker');
    this.queue.on('error', (err) => this.logger.error({ err }, 'queue error'));
    this.queue.process(this.concurrency, async (job) => {
      const envelope = job.data;
      const key = `${this.conn.prefix ?? QUEUE_PREFIX}:deliveries:${this.consumer}:${envelope.id}`;
      const deliveries = await this.redis!.incr(key);
      if (deliveries === 1) await this.redis!.expire(key, DELIVERY_COUNTER_TTL_S);
      if (deliveries > MAX_DELIVERIES) {
        await deadLetter(this.db, this.consumer, envelope, new Error(`delivered ${deliveries} times without success`), deliveries);
        this.logger.error({ eventId: envelope.id }, 'event dead-lettered: too many deliveries');
        return 'dead-lettered';
      }
      const outcome = await handleEvent(this.db, this.consumer, this.handlers, envelope, {
        lastAttempt: (job.options.retries ?? 0) <= 0,
        attempts: deliveries,
        logger: this.logger,
      });
      if (outcome !== 'applied') this.logger.debug({ eventId: envelope.id, outcome }, 'event handled');
      return outcome;
    });
  }

  async stop(): Promise<void> {
    // close() waits for jobs in progress to finish (up to the timeout) before it resolves.
    await this.queue?.close(10_000);
    await this.redis?.quit();
  }
}

export interface DeadLetterRow {
  id: string;
  consumer: string;
  eventId: string;
  type: string;
  error: string;
  attempts: number;
  failedAt: Date;
}

export async function listDeadLetters(db: Database, limit: number = DEAD_LETTER_PAGE_SIZE): Promise<DeadLetterRow[]> {
  const { rows } = await db.transaction((c) =>
    c.query<{ id: string; consumer: string; event_id: string; event: EventEnvelope; error: string; attempts: number; failed_at: Date | string }>(
      'SELECT id, consumer, event_id, event, error, attempts, failed_at FROM dead_letter WHERE requeued_at IS NULL ORDER BY failed_at LIMIT $1',
      [Math.min(limit, DEAD_LETTER_PAGE_SIZE)],
    ),
  );
  return rows.map((r) => ({ id: r.id, consumer: r.consumer, eventId: r.event_id, type: r.event.type, error: r.error, attempts: r.attempts, failedAt: new Date(r.failed_at) }));
}

/** Puts a dead-lettered event back on its consumer's queue; false when there was no such open row. */
export async function requeueDeadLetter(db: Database, publisher: EventPublisher, id: string): Promise<boolean> {
  return db.transaction(async (c) => {
    const { rows } = await c.query<{ consumer: Consumer; event: EventEnvelope }>(
      'SELECT consumer, event FROM dead_letter WHERE id = $1 AND requeued_at IS NULL FOR UPDATE',
      [id],
    );
    const row = rows[0];
    if (!row) return false;
    await publisher.publish(row.consumer, [row.event]);
    await c.query('UPDATE dead_letter SET requeued_at = now() WHERE id = $1', [id]);
    return true;
  });
}
