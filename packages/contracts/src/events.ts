import {
  AccountClosed,
  AccountFrozen,
  AccountOpened,
  AccountUnfrozen,
  DepositCompleted,
  PaymentRequested,
  PaymentSettled,
  TransferRecorded,
  UserRegistered,
} from './gen/bank/events/v1/events';

/** The consuming services, each with its own queue. */
export const CONSUMERS = ['user-service', 'transaction-service', 'payment-service', 'notification-service'] as const;
export type Consumer = (typeof CONSUMERS)[number];

/**
 * The event catalogue: each type's payload codec (ts-proto JSON form, int64 as strings) and the
 * consumers whose queues receive it. The outbox relay fans an event out by this table, so it names
 * only services that consume the type today: a queue nobody reads grows without bound. A service
 * that starts consuming a type adds itself here (a unit test ties this table to the handlers).
 */
export const EVENT_CATALOGUE = {
  'user.registered': { codec: UserRegistered, consumers: ['user-service', 'notification-service'] },
  'account.opened': { codec: AccountOpened, consumers: ['transaction-service', 'payment-service', 'notification-service'] },
  'account.frozen': { codec: AccountFrozen, consumers: ['transaction-service', 'payment-service', 'notification-service'] },
  'account.unfrozen': { codec: AccountUnfrozen, consumers: ['transaction-service', 'payment-service'] },
  'account.closed': { codec: AccountClosed, consumers: ['transaction-service', 'payment-service', 'notification-service'] },
  'transfer.posted': { codec: TransferRecorded, consumers: ['payment-service'] },
  'transfer.pending': { codec: TransferRecorded, consumers: ['payment-service'] },
  'transfer.voided': { codec: TransferRecorded, consumers: ['payment-service'] },
  'transfer.expired': { codec: TransferRecorded, consumers: ['payment-service'] },
  'payment.requested': { codec: PaymentRequested, consumers: ['payment-service'] },
  'payment.completed': { codec: PaymentSettled, consumers: ['notification-service'] },
  'payment.failed': { codec: PaymentSettled, consumers: ['notification-service'] },
  'payment.cancelled': { codec: PaymentSettled, consumers: [] },
  'deposit.completed': { codec: DepositCompleted, consumers: ['notification-service'] },
} as const satisfies Record<string, { codec: { toJSON(m: never): unknown }; consumers: readonly Consumer[] }>;

export type EventType = keyof typeof EVENT_CATALOGUE;

type CodecOf<T extends EventType> = (typeof EVENT_CATALOGUE)[T]['codec'];
export type EventPayload<T extends EventType> = CodecOf<T> extends { fromJSON(o: unknown): infer P } ? P : never;

/** What travels between services: the envelope, with the payload in its JSON form. */
export interface EventEnvelope {
  id: string;
  type: EventType;
  aggregateId: string;
  /** Per-aggregate sequence, so a consumer can tell order. */
  sequence: number;
  occurredAt: string;
  /** W3C trace context of the request that caused the event. */
  traceparent: string;
  payload: unknown;
}

export function isEventType(type: unknown): type is EventType {
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(EVENT_CATALOGUE, type);
}

export function consumersOf(type: EventType): readonly Consumer[] {
  return EVENT_CATALOGUE[type].consumers;
}

/**
 * The event types a consumer takes as wake-ups (platform's `wakeUp`): they only wake idempotent
 * work that reads its own state, and leave no inbox row. Each service's handlers are held to this
 * table at start (checkEventRouting), and the fault harness counts inbox rows by it.
 */
export const WAKE_UP_EVENTS: Readonly<Partial<Record<Consumer, readonly EventType[]>>> = {
  'payment-service': ['transfer.posted', 'transfer.pending', 'transfer.voided', 'transfer.expired', 'payment.requested'],
};

export function isWakeUpFor(consumer: string, type: EventType): boolean {
  return (WAKE_UP_EVENTS[consumer as Consumer] ?? []).includes(type);
}

/** The event types routed to a consumer's queue, in catalogue order. */
export function typesConsumedBy(consumer: string): EventType[] {
  return (Object.keys(EVENT_CATALOGUE) as EventType[]).filter((t) => (consumersOf(t) as readonly string[]).includes(consumer));
}

export function encodePayload<T extends EventType>(type: T, payload: EventPayload<T>): unknown {
  return (EVENT_CATALOGUE[type].codec as unknown as { toJSON(m: EventPayload<T>): unknown }).toJSON(payload);
}

export function decodePayload<T extends EventType>(type: T, json: unknown): EventPayload<T> {
  return (EVENT_CATALOGUE[type].codec as unknown as { fromJSON(o: unknown): EventPayload<T> }).fromJSON(json);
}
