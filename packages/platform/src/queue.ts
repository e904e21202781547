import BeeQueue from 'bee-queue';
import IORedis from 'ioredis';
import type { Consumer, EventEnvelope } from '@bank/contracts';

/** A worker that holds a job this long without a heartbeat is considered crashed. */
export const STALL_INTERVAL_MS = 5_000;
/** How often a worker looks for stalled jobs of crashed peers and puts them back. */
export const STALL_CHECK_INTERVAL_MS = 5_000;
/** Retries after the first failed attempt, then the event goes to the dead-letter table. */
export const MAX_RETRIES = 5;
/** Exponential back-off base: 200 ms, 400 ms, 800 ms, ... */
export const RETRY_BACKOFF_BASE_MS = 200;
/** Deliveries of one event (failures plus worker crashes) before it is dead-lettered regardless. */
export const MAX_DELIVERIES = MAX_RETRIES + 4;
export const QUEUE_PREFIX = 'bank';

export type EventQueue = BeeQueue<EventEnvelope>;

/** Where queues live: the Redis server and a key prefix (tests use one prefix per suite). */
export interface QueueConnection {
  readonly redisUrl: string;
  readonly prefix?: string;
}

/**
 * bee-queue with every setting that matters written out: stall checking is explicit, delayed
 * (back-off) jobs are activated only where a queue is told to, and finished jobs are removed so
 * Redis does not grow without bound.
 */
export function createEventQueue(consumer: Consumer, conn: QueueConnection, role: 'producer' | 'worker'): EventQueue {
  const queue = new BeeQueue<EventEnvelope>(`events:${consumer}`, {
    prefix: conn.prefix ?? QUEUE_PREFIX,
    redis: { url: conn.redisUrl },
    isWorker: role === 'worker',
    getEvents: false,
    sendEvents: false,
    storeJobs: false,
    ensureScripts: true,
    // Back-off retries are delayed jobs: without this they would never come back.
    activateDelayedJobs: role === 'worker',
    stallInterval: STALL_INTERVAL_MS,
    nearTermWindow: 20 * 60 * 1000,
    delayedDebounce: 1_000,
    removeOnSuccess: true,
    removeOnFailure: true,
  });
  if (role === 'worker') {
    void queue.checkStalledJobs(STALL_CHECK_INTERVAL_MS);
  }
  return queue;
}

/** Where the outbox relay sends events: one queue per consuming service. */
export interface EventPublisher {
  publish(consumer: Consumer, envelopes: readonly EventEnvelope[]): Promise<void>;
}

export class BeeQueuePublisher implements EventPublisher {
  private readonly queues = new Map<Consumer, EventQueue>();

  constructor(private readonly conn: QueueConnection) {}

  private queue(consumer: Consumer): EventQueue {
    let q = this.queues.get(consumer);
    if (!q) {
      q = createEventQueue(consumer, this.conn, 'producer');
      this.queues.set(consumer, q);
    }
    return q;
  }

  async publish(consumer: Consumer, envelopes: readonly EventEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    const q = this.queue(consumer);
    // The event id is the job id: while a copy is still queued, a republished duplicate is dropped.
    const jobs = envelopes.map((e) => q.createJob(e).setId(e.id).retries(MAX_RETRIES).backoff('exponential', RETRY_BACKOFF_BASE_MS));
    const errors = await q.saveAll(jobs);
    if (errors.size > 0) {
      const first = [...errors.values()][0];
      throw new Error(`publishing to ${consumer} failed for ${errors.size} event(s): ${first?.message ?? 'unknown'}`);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}

/** Keys deleted per SCAN/UNLINK round while dropping a namespace. */
const DROP_BATCH_KEYS = 1_000;

/**
 * Deletes every key under `prefix:` — the queues, jobs and counters of a bank (or of a test run
 * or a benchmark) that nobody will consume any more. Returns how many keys went.
 */
export async function dropQueueNamespace(conn: QueueConnection): Promise<number> {
  const prefix = conn.prefix ?? QUEUE_PREFIX;
  const redis = new IORedis(conn.redisUrl, { maxRetriesPerRequest: 3 });
  let dropped = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', DROP_BATCH_KEYS);
      cursor = next;
      if (keys.length > 0) dropped += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return dropped;
}
