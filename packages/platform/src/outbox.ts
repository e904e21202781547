import { consumersOf, encodePayload, type EventEnvelope, type EventPayload, type EventType } from '@bank/contracts';
import { newId } from '@bank/kernel';
import type { Database, SqlClient } from './db';
import type { Logger } from './logger';
import type { EventPublisher } from './queue';

export const OUTBOX_BATCH_SIZE = 500;
export const OUTBOX_POLL_INTERVAL_MS = 200;
/** Published rows are kept this long for inspection, then purged by the relay. */
export const OUTBOX_RETENTION_MS = 7 * 24 * 3600 * 1000;
const PURGE_EVERY_MS = 60_000;
const PURGE_BATCH_SIZE = 10_000;

export interface NewEvent<T extends EventType = EventType> {
  type: T;
  aggregateId: string;
  payload: EventPayload<T>;
  traceparent?: string;
  occurredAt?: Date;
}

/**
 * Records events in the outbox inside the caller's transaction, so that the state change and the
 * event commit together or not at all. Nothing here talks to Redis.
 */
export async function appendToOutbox(client: SqlClient, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const ids: string[] = [];
  const types: string[] = [];
  const aggregates: string[] = [];
  const occurred: string[] = [];
  const traces: string[] = [];
  const payloads: string[] = [];
  for (const e of events) {
    ids.push(newId());
    types.push(e.type);
    aggregates.push(e.aggregateId);
    occurred.push((e.occurredAt ?? new Date()).toISOString());
    traces.push(e.traceparent ?? '');
    payloads.push(JSON.stringify(encodePayload(e.type, e.payload as never)));
  }
  // unnest keeps one statement text whatever the batch size (no giant parameter lists to plan).
  await client.query(
    `INSERT INTO outbox (id, type, aggregate_id, occurred_at, traceparent, payload)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[])`,
    [ids, types, aggregates, occurred, traces, payloads],
  );
}

interface OutboxRow {
  position: string;
  id: string;
  type: EventType;
  aggregate_id: string;
  occurred_at: Date | string;
  traceparent: string;
  payload: unknown;
}

export function toEnvelope(row: OutboxRow): EventEnvelope {
  return {
    id: row.id,
    type: row.type,
    aggregateId: row.aggregate_id,
    // The outbox position is a sequence that grows per aggregate in commit order: writes to one
    // aggregate are serialised by its row lock, so a later event always gets a larger position.
    sequence: Number(row.position),
    occurredAt: new Date(row.occurred_at).toISOString(),
    traceparent: row.traceparent,
    payload: row.payload,
  };
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

  constructor(
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    private readonly logger: Logger,
    private readonly batchSize: number = OUTBOX_BATCH_SIZE,
    private readonly pollIntervalMs: number = OUTBOX_POLL_INTERVAL_MS,
  ) {}

  /** Publishes one batch; returns how many rows it moved. */
  async relayOnce(): Promise<number> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<OutboxRow>(
        `SELECT position, id, type, aggregate_id, occurred_at, traceparent, payload
           FROM outbox WHERE published_at IS NULL
          ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      );
      if (rows.length === 0) return 0;
      const byConsumer = new Map<string, EventEnvelope[]>();
      for (const row of rows) {
        const envelope = toEnvelope(row);
        for (const consumer of consumersOf(row.type)) {
          const list = byConsumer.get(consumer) ?? [];
          list.push(envelope);
          byConsumer.set(consumer, list);
        }
      }
      await Promise.all([...byConsumer].map(([consumer, list]) => this.publisher.publish(consumer as never, list)));
      await client.query('UPDATE outbox SET published_at = now() WHERE position = ANY($1::bigint[])', [rows.map((r) => r.position)]);
      return rows.length;
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
    while (this.running) {
      let moved = 0;
      try {
        moved = await this.relayOnce();
        await this.purgeIfDue();
      } catch (e) {
        this.logger.error({ err: e }, 'outbox relay failed; will retry');
      }
      if (moved < this.batchSize && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.pollIntervalMs);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
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
