import { consumersOf, encodePayload, type Consumer, type EventEnvelope, type EventPayload, type EventType } from '@bank/contracts';
import { newId } from '@bank/kernel';
import type { Database, SqlClient } from './db';
import { backoffMs, type DependencyHealths } from './dependency';
import { PUBLISH_TIMEOUT_MS, type EventPublisher } from './queue';
import { currentTraceparent } from './trace';

export const OUTBOX_BATCH_SIZE = 500;
/** Events published per relay transaction; a batch row may carry thousands, so rows are capped too. */
export const MAX_EVENTS_PER_RELAY = 20_000;
export const OUTBOX_POLL_INTERVAL_MS = 200;
/**
 * Least time between two relay rounds when nudged. A busy writer nudges after every commit; the
 * gap lets a round carry many rows instead of costing the database one extra commit per write.
 */
export const OUTBOX_MIN_ROUND_GAP_MS = 25;
/** Published rows are kept this long for inspection, then purged by the relay. */
export const OUTBOX_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** After a failed round the relay waits this long, doubling per failure up to the cap (plus jitter). */
export const RELAY_BACKOFF_BASE_MS = OUTBOX_POLL_INTERVAL_MS;
export const RELAY_BACKOFF_MAX_MS = 10_000;
/**
 * PostgreSQL ends a relay session that sits idle in its transaction longer than this, so that the
 * claimed rows are unlocked even if this process hangs mid-publish (each publish is bounded by
 * PUBLISH_TIMEOUT_MS already).
 */
export const RELAY_LOCK_HOLD_MAX_MS = PUBLISH_TIMEOUT_MS + 5_000;
const PURGE_EVERY_MS = 60_000;
const PURGE_BATCH_SIZE = 10_000;

interface TypedEvent<T extends EventType> {
  type: T;
  aggregateId: string;
  payload: EventPayload<T>;
  traceparent?: string;
  occurredAt?: Date;
}

/** An event to record: a union over the catalogue, so the payload is checked against its type. */
export type NewEvent<T extends EventType = EventType> = T extends EventType ? TypedEvent<T> : never;

/** A row of this type carries many events (a ledger batch's); the relay publishes each one. */
export const BATCH_ROW_TYPE = 'batch';
/** Events one batch row may carry; sequences of a batch row's events are position × this + index. */
export const MAX_EVENTS_PER_ROW = 10_000;

type StoredEvent = [id: string, type: EventType, aggregateId: string, occurredAt: string, payload: unknown];

function stored(e: NewEvent): StoredEvent {
  return [newId(), e.type, e.aggregateId, (e.occurredAt ?? new Date()).toISOString(), encodePayload(e.type, e.payload as never)];
}

/**
 * The values of a many-event outbox row, for a writer that inserts it as part of its own
 * statement (the ledger writes a whole batch in one round trip).
 */
export function outboxBatchRow(events: readonly NewEvent[]): { id: string; occurredAt: string; payload: string } {
  if (events.length > MAX_EVENTS_PER_ROW) throw new Error(`at most ${MAX_EVENTS_PER_ROW} events fit one outbox row`);
  return { id: newId(), occurredAt: (events[0]?.occurredAt ?? new Date()).toISOString(), payload: JSON.stringify(events.map(stored)) };
}

/**
 * Records events in the outbox inside the caller's transaction, so that the state change and the
 * event commit together or not at all. Each event carries the trace it was made in (the caller's
 * traceparent, else the active span's), so its consumers' work joins that trace. Nothing here talks to Redis. (The ledger writes a batch's
 * events as one row, outboxBatchRow, inside its own batch statement.)
 */
export async function appendToOutbox(client: SqlClient, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const insert = outboxInsert(events, 1);
  await client.query(insert.text, insert.values);
}

/**
 * The outbox insert of `events` as a statement whose parameters start at `$firstParam`, for a
 * writer that makes it one clause (a CTE) of its own statement: the state change and its events
 * then commit in one round trip, with no transaction around them. `when`, a condition over the
 * writer's other clauses, makes the events conditional on the change (`EXISTS (SELECT 1 FROM u)`).
 */
export function outboxInsert(events: readonly NewEvent[], firstParam: number, when?: string): { text: string; values: unknown[] } {
  const rows = events.map(stored);
  const n = (i: number) => `$${firstParam + i}`;
  // unnest keeps one statement text whatever the batch size (no giant parameter lists to plan).
  return {
    text: `INSERT INTO outbox (id, type, aggregate_id, occurred_at, traceparent, payload)
     SELECT * FROM unnest(${n(0)}::uuid[], ${n(1)}::text[], ${n(2)}::text[], ${n(3)}::timestamptz[], ${n(4)}::text[], ${n(5)}::json[])${when ? ` WHERE ${when}` : ''}`,
    values: [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3]), events.map((e) => e.traceparent || currentTraceparent()), rows.map((r) => JSON.stringify(r[4]))],
  };
}

interface OutboxRow {
  position: string;
  id: string;
  type: EventType | typeof BATCH_ROW_TYPE;
  aggregate_id: string;
  occurred_at: Date | string;
  traceparent: string;
  payload: unknown;
}

/**
 * The envelopes of one outbox row. The position is a sequence that grows per aggregate in commit
 * order: writes to one aggregate are serialised by its row lock, so a later event always gets a
 * larger position (and inside a batch row, a larger index).
 */
export function toEnvelopes(row: OutboxRow): EventEnvelope[] {
  const position = Number(row.position);
  if (row.type === BATCH_ROW_TYPE) {
    return (row.payload as StoredEvent[]).map(([id, type, aggregateId, occurredAt, payload], index) => ({
      id,
      type,
      aggregateId,
      sequence: position * MAX_EVENTS_PER_ROW + index,
      occurredAt,
      traceparent: row.traceparent,
      payload,
    }));
  }
  return [
    {
      id: row.id,
      type: row.type,
      aggregateId: row.aggregate_id,
      sequence: position * MAX_EVENTS_PER_ROW,
      occurredAt: new Date(row.occurred_at).toISOString(),
      traceparent: row.traceparent,
      payload: row.payload,
    },
  ];
}

/** A round that failed in Redis rather than in the database. */
class PublishFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'PublishFailed';
  }
}

/**
 * Moves committed outbox rows to the consumers' queues. Rows are claimed with FOR UPDATE SKIP
 * LOCKED, so several relays (replicas) never publish the same row at once; the row is marked
 * published in the same transaction after the queue accepted it, so a crash in between gives a
 * duplicate (which the consumer's inbox absorbs), never a loss.
 */
export class OutboxRelay {
  private running = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private lastPurgeMs = 0;
  private lastRoundMs = 0;

  constructor(
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    /** Where a failed round is reported, by what failed: logged once per outage, counted always. */
    private readonly health: DependencyHealths,
    private readonly batchSize: number = OUTBOX_BATCH_SIZE,
    private readonly pollIntervalMs: number = OUTBOX_POLL_INTERVAL_MS,
  ) {}

  /** Publishes one batch; returns how many rows it moved. */
  async relayOnce(): Promise<number> {
    // One autocommit look first: an idle service polls five times a second, and an empty round
    // should cost one statement rather than a transaction of four.
    const { rowCount } = await this.db.sql.query('SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1');
    if (rowCount === 0) return 0;
    return this.db.transaction(async (client) => {
      await client.query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)", [String(RELAY_LOCK_HOLD_MAX_MS)]);
      const { rows } = await client.query<OutboxRow>(
        `SELECT position, id, type, aggregate_id, occurred_at, traceparent, payload
           FROM outbox WHERE published_at IS NULL
          ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      const byConsumer = new Map<string, EventEnvelope[]>();
      const taken: string[] = [];
      let events = 0;
      for (const row of rows) {
        // Always take the first row; stop before a row that would overrun the event cap. Rows not
        // taken stay unpublished and come first in the next round.
        const envelopes = toEnvelopes(row);
        if (taken.length > 0 && events + envelopes.length > MAX_EVENTS_PER_RELAY) break;
        taken.push(row.position);
        events += envelopes.length;
        for (const envelope of envelopes) {
          for (const consumer of consumersOf(envelope.type)) {
            const list = byConsumer.get(consumer) ?? [];
            list.push(envelope);
            byConsumer.set(consumer, list);
          }
        }
      }
      await Promise.all([...byConsumer].map(([consumer, list]) => this.publisher.publish(consumer as never, list))).catch((e: unknown) => {
        throw new PublishFailed(e);
      });
      await client.query('UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[])', [taken]);
      return taken.length;
    });
  }

  /** Lets a writer say "there is something new" so the relay does not wait for its next poll. */
  nudge(): void {
    this.wakeUp?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let moved = 0;
      try {
        this.lastRoundMs = Date.now();
        moved = await this.relayOnce();
        await this.purgeIfDue();
        failures = 0;
        this.health.database.recovered('outbox relay');
        // Only a round that published spoke to Redis; an empty one says nothing of it.
        if (moved > 0) this.health.redis.recovered('outbox relay');
      } catch (e) {
        // Redis or the database is away: one line per outage (DependencyHealth), a longer wait per failure.
        failures += 1;
        if (e instanceof PublishFailed) this.health.redis.failed(e.cause, 'outbox relay');
        else this.health.database.failed(e, 'outbox relay');
      }
      if (failures > 0 && this.running) {
        // A writer's nudge does not cut a back-off short: it would only fail again sooner.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffMs(failures - 1, RELAY_BACKOFF_BASE_MS, RELAY_BACKOFF_MAX_MS));
          this.wakeUp = () => {
            if (!this.running) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
        this.wakeUp = undefined;
      } else if (moved < this.batchSize && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollIntervalMs);
          this.wakeUp = () => {
            clearTimeout(timer);
            const wait = this.lastRoundMs + OUTBOX_MIN_ROUND_GAP_MS - Date.now();
            if (wait > 0 && this.running) setTimeout(resolve, wait);
            else resolve();
            this.wakeUp = undefined;
          };
        });
        this.wakeUp = undefined;
      }
    }
  }

  private async purgeIfDue(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPurgeMs < PURGE_EVERY_MS) return;
    this.lastPurgeMs = now;
    await this.db.transaction((c) =>
      c.query(
        `DELETE FROM outbox WHERE position IN (
           SELECT position FROM outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT $2)`,
        [OUTBOX_RETENTION_MS / 1000, PURGE_BATCH_SIZE],
      ),
    );
  }
}

/** Rows read by one `bank-cli outbox list|replay`: a replay is deliberate, and bounded. */
export const OUTBOX_PAGE_SIZE = 1_000;

export interface OutboxSelection {
  /** One event, by its id (inside a batch row too). */
  readonly eventId?: string;
  /** Every event of one aggregate (an account, a payment, a user). */
  readonly aggregateId?: string;
  readonly since?: Date;
  readonly limit: number;
}

export interface OutboxEntry {
  readonly position: number;
  readonly envelope: EventEnvelope;
  readonly publishedAt: Date | null;
}

/** Events in a service's outbox, oldest first, as the relay would publish them. */
export async function listOutbox(sql: SqlClient, selection: OutboxSelection): Promise<OutboxEntry[]> {
  const limit = Math.min(Math.max(1, selection.limit), OUTBOX_PAGE_SIZE);
  const { rows } = await sql.query<OutboxRow & { published_at: Date | null }>(
    `SELECT position, id, type, aggregate_id, occurred_at, traceparent, payload, published_at FROM outbox
      WHERE ($1::timestamptz IS NULL OR occurred_at >= $1)
        AND ($2::text IS NULL OR id::text = $2 OR (type = '${BATCH_ROW_TYPE}' AND EXISTS (SELECT 1 FROM json_array_elements(payload) e WHERE e->>0 = $2)))
        AND ($3::text IS NULL OR aggregate_id = $3 OR (type = '${BATCH_ROW_TYPE}' AND EXISTS (SELECT 1 FROM json_array_elements(payload) e WHERE e->>2 = $3)))
      ORDER BY position LIMIT $4`,
    [selection.since ?? null, selection.eventId?.toLowerCase() ?? null, selection.aggregateId ?? null, limit],
  );
  return rows
    .flatMap((row) => toEnvelopes(row).map((envelope) => ({ position: Number(row.position), envelope, publishedAt: row.published_at === null ? null : new Date(row.published_at) })))
    .filter((e) => (selection.eventId === undefined || e.envelope.id === selection.eventId.toLowerCase()) && (selection.aggregateId === undefined || e.envelope.aggregateId === selection.aggregateId))
    .slice(0, limit);
}

/**
 * Publishes the events again to every consumer of their type. Harmless by design: consumers apply
 * an event once (the inbox), so a replay only reaches one that never got it. Delivery counts are
 * reset first, or an event once retried to its budget would go straight to the dead letters.
 */
export async function replayOutbox(publisher: EventPublisher, entries: readonly OutboxEntry[]): Promise<{ events: number; deliveries: number }> {
  const byConsumer = new Map<Consumer, EventEnvelope[]>();
  for (const { envelope } of entries) {
    for (const consumer of consumersOf(envelope.type)) {
      const list = byConsumer.get(consumer) ?? [];
      list.push(envelope);
      byConsumer.set(consumer, list);
    }
  }
  let deliveries = 0;
  for (const [consumer, list] of byConsumer) {
    await publisher.resetDeliveries(consumer, list.map((e) => e.id));
    await publisher.publish(consumer, list);
    deliveries += list.length;
  }
  return { events: entries.length, deliveries };
}
