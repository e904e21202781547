import type { Consumer, EventEnvelope, EventType } from '@bank/contracts';
import { handleEvent, type Database, type EventHandler, type EventHandlers } from '@bank/platform';
import { newId } from '@bank/kernel';
import { captureLogger } from './infra';

/** An event as the queue delivers it, with `payload` in its JSON form. */
export function testEnvelope(type: EventType, aggregateId: string, payload: unknown, sequence = 1): EventEnvelope {
  return { id: newId(), type, aggregateId, sequence, occurredAt: new Date().toISOString(), traceparent: '', payload };
}

/**
 * Shows that a consumer's effect and the event's inbox row commit or roll back together: a
 * failure injected right after the handler's effect leaves neither; the redelivery applies both;
 * a third delivery is a duplicate that changes nothing. `effect` counts the rows the event writes.
 */
export async function expectEffectCommitsWithInbox(opts: { db: Database; consumer: Consumer; handlers: EventHandlers; envelope: EventEnvelope; effect: () => Promise<number> }): Promise<void> {
  const { db, consumer, handlers, envelope, effect } = opts;
  const { logger } = captureLogger(`${consumer}-atomicity`);
  const handler = handlers[envelope.type as EventType] as EventHandler<EventType> | undefined;
  if (!handler) throw new Error(`${consumer} has no handler for ${envelope.type}`);
  const failingAfterEffect = {
    [envelope.type]: async (...args: Parameters<EventHandler<EventType>>) => {
      await handler(...args);
      throw new Error('injected crash after the effect');
    },
  } as EventHandlers;
  const inboxRows = async () => (await db.sql.query('SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2', [consumer, envelope.id])).rowCount;
  const before = await effect();
  await expect(handleEvent(db, consumer, failingAfterEffect, envelope, { lastAttempt: false, attempts: 1, logger })).rejects.toThrow('injected crash');
  expect([await effect(), await inboxRows()]).toEqual([before, 0]);
  expect(await handleEvent(db, consumer, handlers, envelope, { lastAttempt: false, attempts: 2, logger })).toBe('applied');
  const after = await effect();
  expect(after).toBeGreaterThan(before);
  expect(await inboxRows()).toBe(1);
  expect(await handleEvent(db, consumer, handlers, envelope, { lastAttempt: false, attempts: 3, logger })).toBe('duplicate');
  expect(await effect()).toBe(after);
}
