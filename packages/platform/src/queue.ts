import BeeQueue from 'bee-queue';
import IORedis from 'ioredis';
import { CONSUMERS, typesConsumedBy, type Consumer, type EventEnvelope } from '@bank/contracts';
import type { DependencyHealth } from './dependency';

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
/** A publish that Redis has not confirmed by then fails, and the relay's transaction (and its row locks) ends. */
export const PUBLISH_TIMEOUT_MS = 5_000;
/** A worker's reconnect attempts are this far apart at the most (100 ms, 200 ms, ... up to it). */
export const WORKER_RECONNECT_MAX_DELAY_MS = 2_000;
const WORKER_RECONNECT_STEP_MS = 100;
/**
 * node_redis ends a client for good once its reconnects have taken longer than connect_timeout in
 * all (one hour by default): a worker must outlive any outage, so the bound is setTimeout's largest.
 */
const RECONNECT_FOREVER_MS = 2 ** 31 - 1;
/** Idle time after which TCP keepalive probes the Redis peer. */
export const REDIS_KEEPALIVE_DELAY_MS = 10_000;

export type EventQueue = BeeQueue<EventEnvelope>;
/** node_redis's client options and client, as bee-queue's own types name them (its redis is not ours to import). */
type RedisSetting = NonNullable<BeeQueue.QueueSettings['redis']>;
type RedisClient = Extract<RedisSetting, { connected: boolean }>;
type ClientOpts = Exclude<RedisSetting, RedisClient>;

/** Where queues live: the Redis server and a key prefix (tests use one prefix per suite). */
export interface QueueConnection {
  readonly redisUrl: string;
  readonly prefix?: string;
}

/**
 * The Redis client settings of a queue. A worker reconnects for as long as it takes, its commands
 * (the blocking pop) waiting for the reconnect. A producer never reconnects: its client ends at
 * the first connection error, commands fail at once, and the publisher builds a new queue on the
 * relay's next (backed-off) round. That also gives it a fresh script cache after a Redis restart.
 */
function redisOptions(url: string, role: 'producer' | 'worker'): ClientOpts {
  return {
    url,
    socket_keepalive: true,
    socket_initial_delay: REDIS_KEEPALIVE_DELAY_MS,
    connect_timeout: role === 'worker' ? RECONNECT_FOREVER_MS : PUBLISH_TIMEOUT_MS,
    enable_offline_queue: role === 'worker',
    retry_strategy: role === 'worker' ? ({ attempt }) => Math.min(attempt * WORKER_RECONNECT_STEP_MS, WORKER_RECONNECT_MAX_DELAY_MS) : () => new Error('Redis connection lost'),
  };
}

/** bee-queue's command client; set once the queue is ready. Its Lua scripts must be reloaded after a Redis restart. */
type WithClient = { client?: RedisClient | null };

/**
 * bee-queue with every setting that matters written out: stall checking is explicit, delayed
 * (back-off) jobs are activated only where a queue is told to, and finished jobs are removed so
 * Redis does not grow without bound. Every error of its Redis clients reaches `health` (bee-queue
 * re-emits them on the queue; unheard, they would crash the process).
 */
export function createQueue<T>(name: string, conn: QueueConnection, role: 'producer' | 'worker', health: DependencyHealth): BeeQueue<T> {
  const queue = new BeeQueue<T>(name, {
    prefix: conn.prefix ?? QUEUE_PREFIX,
    redis: redisOptions(conn.redisUrl, role),
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
  const component = `queue ${name}`;
  queue.on('error', (err: Error) => health.failed(err, component));
  if (role === 'worker') {
    // The first check's promise rejects when Redis is away at start; later ones report through 'error'.
    queue.checkStalledJobs(STALL_CHECK_INTERVAL_MS).catch((err: unknown) => health.failed(err, component));
    void queue.ready().then(() => reloadScriptsOnReconnect(queue as unknown as EventQueue, health, component), () => undefined);
  }
  return queue;
}

/** A consuming service's event queue (`events:<service>`). */
export function createEventQueue(consumer: Consumer, conn: QueueConnection, role: 'producer' | 'worker', health: DependencyHealth): EventQueue {
  return createQueue<EventEnvelope>(`events:${consumer}`, conn, role, health);
}

/**
 * bee-queue loads its Lua scripts once; a Redis that restarted (its data kept in the AOF) has
 * forgotten them, and every stall check and delayed-job activation would fail with NOSCRIPT.
 */
function reloadScriptsOnReconnect(queue: EventQueue, health: DependencyHealth, component: string): void {
  const client = (queue as unknown as WithClient).client;
  if (client === null || client === undefined) return;
  // Called once the queue is ready, so every 'ready' from here on is a reconnect.
  client.on('ready', () => {
    // Deep import: bee-queue has no exports map, and its script cache is only reachable here (pinned version).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lua = require('bee-queue/lib/lua') as { buildCache(c: RedisClient): Promise<void> };
    lua.buildCache(client).then(
      () => {
        health.recovered(component);
        // The activation of due retries that ran during the outage failed (NOSCRIPT) and would not
        // run again before nearTermWindow; run it now (a private method of the pinned bee-queue).
        (queue as unknown as { _activateDelayed?: () => void })._activateDelayed?.();
      },
      (err: unknown) => health.failed(err, component),
    );
  });
}

/** Where the outbox relay sends events: one queue per consuming service. */
export interface EventPublisher {
  publish(consumer: Consumer, envelopes: readonly EventEnvelope[]): Promise<void>;
  /** Forgets the delivery counts of these events (a requeued dead letter starts afresh). */
  resetDeliveries(consumer: Consumer, eventIds: readonly string[]): Promise<void>;
}

/** Rejects with a "timed out" error when `promise` has not settled in time; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer from Redis within ${timeoutMs} ms`)), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

export class BeeQueuePublisher implements EventPublisher {
  private readonly queues = new Map<Consumer, EventQueue>();
  private readonly counters: IORedis;

  constructor(
    private readonly conn: QueueConnection,
    private readonly health: DependencyHealth,
    private readonly publishTimeoutMs: number = PUBLISH_TIMEOUT_MS,
  ) {
    // For resetting delivery counters; commands fail at once while Redis is away instead of queueing.
    this.counters = new IORedis(conn.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, keepAlive: REDIS_KEEPALIVE_DELAY_MS });
    this.counters.on('error', (err) => health.failed(err, 'delivery counters'));
  }

  private queue(consumer: Consumer): EventQueue {
    let q = this.queues.get(consumer);
    if (!q) {
      q = createEventQueue(consumer, this.conn, 'producer', this.health);
      this.queues.set(consumer, q);
    }
    return q;
  }

  /** A queue that failed once is dropped: its client has ended (producers never reconnect), and the next publish builds a new one. */
  private discard(consumer: Consumer, q: EventQueue): void {
    if (this.queues.get(consumer) === q) this.queues.delete(consumer);
    q.close(0).catch(() => undefined);
  }

  async publish(consumer: Consumer, envelopes: readonly EventEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    const q = this.queue(consumer);
    // The event id is the job id: while a copy is still queued, a republished duplicate is dropped.
    const jobs = envelopes.map((e) => q.createJob(e).setId(e.id).retries(MAX_RETRIES).backoff('exponential', RETRY_BACKOFF_BASE_MS));
    let errors: Map<unknown, Error>;
    try {
      errors = await within(q.saveAll(jobs), this.publishTimeoutMs, `publishing to ${consumer}`);
    } catch (e) {
      this.discard(consumer, q);
      throw e;
    }
    if (errors.size > 0) {
      this.discard(consumer, q);
      const first = [...errors.values()][0];
      throw new Error(`publishing to ${consumer} failed for ${errors.size} event(s): ${first?.message ?? 'unknown'}`);
    }
    this.health.recovered(`queue ${consumer}`);
  }

  /** Forgets how often these events were delivered, so that a requeued dead letter gets a whole retry budget. */
  async resetDeliveries(consumer: Consumer, eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    if (this.counters.status === 'wait' || this.counters.status === 'end') await this.counters.connect();
    await within(this.counters.del(...eventIds.map((id) => deliveryCounterKey(this.conn, consumer, id))), this.publishTimeoutMs, 'resetting delivery counters');
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
    this.counters.disconnect();
  }
}

/** The Redis key counting the deliveries of one event to one consumer (see EventConsumer). */
export function deliveryCounterKey(conn: QueueConnection, consumer: Consumer, eventId: string): string {
  return `${conn.prefix ?? QUEUE_PREFIX}:deliveries:${consumer}:${eventId}`;
}

/** One consuming service's queue, as an operator sees it. */
export interface QueueBacklog {
  readonly consumer: Consumer;
  /** Event types the relays route to this queue; a queue with none should hold nothing. */
  readonly routedTypes: number;
  readonly waiting: number;
  readonly active: number;
  /** Retries waiting for their back-off to pass. */
  readonly delayed: number;
  readonly failed: number;
}

/**
 * The backlog of every consumer's queue (bee-queue's own counts). Nothing that is consumed stays
 * in a queue (finished jobs are removed), so a backlog that grows means a consumer that is down
 * or behind, and one on a queue without routed types is a routing fault.
 */
export async function queueBacklogs(conn: QueueConnection, health: DependencyHealth): Promise<QueueBacklog[]> {
  return Promise.all(
    CONSUMERS.map(async (consumer) => {
      const queue = createEventQueue(consumer, conn, 'producer', health);
      try {
        const counts = await within(queue.checkHealth(), PUBLISH_TIMEOUT_MS, `queue ${consumer}`);
        return { consumer, routedTypes: typesConsumedBy(consumer).length, waiting: counts.waiting, active: counts.active, delayed: counts.delayed, failed: counts.failed };
      } finally {
        await queue.close(PUBLISH_TIMEOUT_MS).catch(() => undefined);
      }
    }),
  );
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
  // Failures surface through the commands below; unheard 'error' events would crash the process.
  redis.on('error', () => undefined);
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
