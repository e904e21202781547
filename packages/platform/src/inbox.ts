import IORedis from 'ioredis';
import { decodePayload, type Consumer, type EventEnvelope, type EventPayload, type EventType, isEventType } from '@bank/contracts';
import { newId } from '@bank/kernel';
import type { Job } from 'bee-queue';
import type { Database, Persistence, SqlClient } from './db';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffMs, type DependencyHealths } from './dependency';
import type { Logger } from './logger';
import type { ConsumerMetrics } from './metrics';
import { inSpan } from './trace';
import { createEventQueue, deliveryCounterKey, MAX_DELIVERIES, REDIS_KEEPALIVE_DELAY_MS, type EventPublisher, type EventQueue, type QueueConnection } from './queue';

export const DEFAULT_CONSUMER_CONCURRENCY = 8;
const DELIVERY_COUNTER_TTL_S = 24 * 3600;
/** While its database is unreachable a consumer probes it this often (doubling, with jitter, up to the cap). */
export const DATABASE_PROBE_BASE_MS = 200;
export const DATABASE_PROBE_MAX_MS = 5_000;
/** Waits between attempts at the delivery counter while the consumer's Redis is away. */
const REDIS_RETRY_BASE_MS = 200;
const REDIS_RETRY_MAX_MS = 5_000;
/** stop() waits this long for handlers in progress; jobs held past it stay in Redis and are redelivered. */
export const CONSUMER_CLOSE_TIMEOUT_MS = 10_000;
export const DEAD_LETTER_PAGE_SIZE = 100;

/**
 * What a handler may hand back: work to start once its effect and the inbox row have committed
 * (a saga to take up, a dispatcher to wake), outside the transaction. It is best effort: what it
 * starts must be found again by a sweep if the process dies first.
 */
export type AfterCommit = () => void;
/**
 * Runs inside the consumer's transaction; `tx` is its scope: a store built on it joins the
 * transaction, so the use case's effect commits or rolls back with the event's inbox row.
 */
export type EventHandler<T extends EventType> = (payload: EventPayload<T>, envelope: EventEnvelope, tx: Persistence) => Promise<void | AfterCommit>;
export type EventHandlers = { [T in EventType]?: EventHandler<T> };

const WAKE_UP = Symbol('wake-up');
/** What a wake-up does; a promise it answers is awaited, so the consumer's concurrency bounds the work it starts. */
type WakeUp<T extends EventType> = (payload: EventPayload<T>, envelope: EventEnvelope) => void | Promise<unknown>;
type WakeUpHandler = EventHandler<EventType> & { readonly [WAKE_UP]: WakeUp<never> };

/**
 * A handler with no effect to commit: the event only wakes work that reads its own state and is
 * idempotent (a saga's drive). It runs without a transaction, an inbox row or a delivery count:
 * applying it twice is harmless by construction, and the inbox would only cost three round trips
 * and a row per event (for payment-service, three events of every payment). What it wakes must
 * be found again by a sweep if the process dies first, as with AfterCommit work.
 */
export function wakeUp<T extends EventType>(fn: WakeUp<T>): EventHandler<T> {
  const handler = async (payload: EventPayload<T>, envelope: EventEnvelope): Promise<AfterCommit> => () => void fn(payload, envelope);
  return Object.assign(handler, { [WAKE_UP]: fn });
}

/** Whether a handler was made by `wakeUp`. */
export function isWakeUp(handler: unknown): boolean {
  return wakeUpOf(handler) !== undefined;
}

function wakeUpOf(handler: unknown): WakeUpHandler[typeof WAKE_UP] | undefined {
  return typeof handler === 'function' ? (handler as Partial<WakeUpHandler>)[WAKE_UP] : undefined;
}

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
    const { outcome, afterCommit } = await db.transaction(async (client, _em, tx) => {
      if (!(await claimInbox(client, consumer, envelope.id))) return { outcome: 'duplicate' as const };
      return { outcome: 'applied' as const, afterCommit: await handler(decodePayload(envelope.type, envelope.payload), envelope, tx) };
    });
    try {
      afterCommit?.();
    } catch (err) {
      // The effect is committed; what failed to start is found again by its sweep.
      opts.logger.warn({ err, eventId: envelope.id, type: envelope.type }, 'work after an applied event failed to start');
    }
    return outcome;
  } catch (e) {
    if (!opts.lastAttempt) throw e;
    // An unreachable database is no fault of the event's: it is held and tried again, never dead-lettered.
    if (!(await db.ping())) throw e;
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
 *
 * A job leaves Redis only once its effect or its dead-letter row is committed: while the
 * consumer's database is unreachable, the handlers in progress hold their jobs (bee-queue keeps
 * them active and takes no new ones while every slot is busy), one probe loop backs off until the
 * database answers, and then they are tried again without spending a retry.
 */
export class EventConsumer {
  private queue: EventQueue | undefined;
  private redis: IORedis | undefined;
  private outage: Promise<void> | undefined;
  private stopping = false;
  /** Jobs whose delivery was counted already: a job held through an outage is one delivery. */
  private readonly counted = new WeakSet<Job<EventEnvelope>>();
  private readonly component: string;

  constructor(
    private readonly consumer: Consumer,
    private readonly db: Database,
    private readonly handlers: EventHandlers,
    private readonly conn: QueueConnection,
    private readonly logger: Logger,
    private readonly health: DependencyHealths,
    private readonly concurrency: number = DEFAULT_CONSUMER_CONCURRENCY,
    private readonly metrics?: ConsumerMetrics,
  ) {
    this.component = `consumer ${consumer}`;
  }

  start(): void {
    this.redis = new IORedis(this.conn.redisUrl, { maxRetriesPerRequest: 1, keepAlive: REDIS_KEEPALIVE_DELAY_MS });
    this.redis.on('error', (err) => this.health.redis.failed(err, this.component));
    this.queue = createEventQueue(this.consumer, this.conn, 'worker', this.health.redis);
    this.queue.process(this.concurrency, (job) => this.handle(job));
  }

  /** The jobs in this consumer's queue, by state (bee-queue's counts, asked of Redis). */
  async backlog(): Promise<{ waiting: number; active: number; delayed: number; failed: number }> {
    if (!this.queue) throw new Error('the consumer has not started');
    const c = await this.queue.checkHealth();
    return { waiting: c.waiting, active: c.active, delayed: c.delayed, failed: c.failed };
  }

  private async handle(job: Job<EventEnvelope>): Promise<HandleOutcome> {
    const wake = isEventType(job.data.type) ? wakeUpOf(this.handlers[job.data.type]) : undefined;
    if (wake) {
      // Held like any job while stopping: it stays in Redis for the next process.
      if (this.stopping) return new Promise<never>(() => undefined);
      // Nothing to commit and nothing to count: a payload that does not decode (or a wake-up that
      // fails) fails the job, and bee-queue's retries end with its removal; it only ever woke
      // work a sweep also finds. Awaited, so that a queue drained after a restart starts at most
      // the consumer's concurrency of look-ups at once rather than all of them.
      await wake(decodePayload(job.data.type, job.data.payload) as never, job.data);
      this.metrics?.handled(job.data.type, 'applied');
      return 'applied';
    }
    for (let attempt = 0; ; attempt++) {
      await this.outage;
      // Held until the process goes: the job stays active in Redis, and a peer's stall check puts it back.
      if (this.stopping) return new Promise<never>(() => undefined);
      let deliveries: number;
      try {
        deliveries = await this.countDelivery(job);
      } catch (e) {
        this.health.redis.failed(e, this.component);
        await sleep(backoffMs(attempt, REDIS_RETRY_BASE_MS, REDIS_RETRY_MAX_MS));
        continue;
      }
      try {
        // The consumer's work joins the trace the event was made in (a no-op with tracing off).
        const outcome = await inSpan(`consume ${job.data.type}`, { traceparent: job.data.traceparent, kind: 'consumer', attributes: { 'messaging.destination.name': this.consumer, 'messaging.message.id': job.data.id } }, () => this.deliver(job, deliveries));
        this.metrics?.handled(job.data.type, outcome);
        this.health.database.recovered(this.component);
        // The outcome is committed: the counter has done its work (it also expires by itself).
        this.redis?.del(deliveryCounterKey(this.conn, this.consumer, job.data.id)).catch(() => undefined);
        return outcome;
      } catch (e) {
        if (await this.db.ping()) {
          // The event's own failure while the database is healthy: bee-queue retries it with back-off.
          if ((job.options.retries ?? 0) > 0) {
            this.metrics?.handled(job.data.type, 'failed');
            throw e;
          }
          // Its last attempt, and the dead-letter row could not be written: never drop it; try again.
          this.health.database.failed(e, this.component);
          await sleep(backoffMs(attempt, DATABASE_PROBE_BASE_MS, DATABASE_PROBE_MAX_MS));
          continue;
        }
        await this.waitForDatabase(e);
      }
    }
  }

  private async countDelivery(job: Job<EventEnvelope>): Promise<number> {
    const key = deliveryCounterKey(this.conn, this.consumer, job.data.id);
    if (this.counted.has(job)) return Number((await this.redis!.get(key)) ?? 1);
    const deliveries = await this.redis!.incr(key);
    this.counted.add(job);
    if (deliveries === 1) await this.redis!.expire(key, DELIVERY_COUNTER_TTL_S);
    return deliveries;
  }

  private async deliver(job: Job<EventEnvelope>, deliveries: number): Promise<HandleOutcome> {
    const envelope = job.data;
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
  }

  /** One probe loop however many handlers wait; it ends when the database answers. */
  private waitForDatabase(error: unknown): Promise<void> {
    this.health.database.failed(error, this.component);
    this.outage ??= (async () => {
      for (let attempt = 0; !this.stopping && !(await this.db.ping()); attempt++) {
        this.health.database.failed(new Error('the database does not answer'), this.component);
        await sleep(backoffMs(attempt, DATABASE_PROBE_BASE_MS, DATABASE_PROBE_MAX_MS));
      }
    })().finally(() => {
      this.outage = undefined;
    });
    return this.outage;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // close() waits for jobs in progress to finish (up to the timeout) before it resolves; held ones stay in Redis.
    await this.queue?.close(CONSUMER_CLOSE_TIMEOUT_MS).catch(() => undefined);
    await this.redis?.quit().catch(() => undefined);
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
      'SELECT id, consumer, event_id, event, error, attempts, failed_at FROM dead_letter WHERE requeued_at IS NULL AND dropped_at IS NULL ORDER BY failed_at LIMIT $1',
      [Math.min(limit, DEAD_LETTER_PAGE_SIZE)],
    ),
  );
  return rows.map((r) => ({ id: r.id, consumer: r.consumer, eventId: r.event_id, type: r.event.type, error: r.error, attempts: r.attempts, failedAt: new Date(r.failed_at) }));
}

/** Puts a dead-lettered event back on its consumer's queue; false when there was no such open row. */
export async function requeueDeadLetter(db: Database, publisher: EventPublisher, id: string): Promise<boolean> {
  return db.transaction(async (c) => {
    const { rows } = await c.query<{ consumer: Consumer; event: EventEnvelope }>(
      'SELECT consumer, event FROM dead_letter WHERE id = $1 AND requeued_at IS NULL AND dropped_at IS NULL FOR UPDATE',
      [id],
    );
    const row = rows[0];
    if (!row) return false;
    // A fresh retry budget: the old count would dead-letter it again after a few attempts.
    await publisher.resetDeliveries(row.consumer, [row.event.id]);
    await publisher.publish(row.consumer, [row.event]);
    await c.query('UPDATE dead_letter SET requeued_at = now() WHERE id = $1', [id]);
    return true;
  });
}

/**
 * Gives up on a dead letter for good (its effect was made by hand, or is not wanted): it stays
 * recorded with the reason but is no longer open. False when there was no such open row.
 */
export async function dropDeadLetter(db: Database, id: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.sql.query('UPDATE dead_letter SET dropped_at = now(), drop_reason = $2 WHERE id = $1 AND requeued_at IS NULL AND dropped_at IS NULL', [id, reason]);
  return (rowCount ?? 0) > 0;
}
