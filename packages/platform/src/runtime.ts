import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import { typesConsumedBy, type Consumer } from '@bank/contracts';
import { InvariantViolation } from '@bank/kernel';
import { Database } from './db';
import { DependencyHealth, type DependencyHealths } from './dependency';
import { startGrpcServer, type ServiceBinding } from './grpc';
import { EventConsumer, type EventHandlers } from './inbox';
import type { Running } from './lifecycle';
import type { Logger } from './logger';
import { OutboxRelay } from './outbox';
import { BeeQueuePublisher, type QueueConnection } from './queue';

export interface ServiceRuntimeOptions {
  name: string;
  logger: Logger;
  databaseUrl: string;
  migrations: readonly MigrationObject[];
  /** MikroORM entity schemas of the service's stores. */
  entities?: readonly EntitySchema[];
  poolMax?: number;
  grpc: { host: string; port: number };
  queues: QueueConnection;
  /** Work that must finish before the service takes calls (keys, system rows); runs after migrations. */
  prepare?(db: Database): Promise<void>;
  /** The gRPC services, built once the database is open. */
  services(db: Database, relay: OutboxRelay): readonly ServiceBinding[];
  /** Present when the service consumes integration events. */
  consumer?: { name: Consumer; handlers(db: Database): EventHandlers; concurrency?: number };
  /** Background work (sweepers, timers) started after the server, stopped before the pool closes. */
  background?(db: Database, relay: OutboxRelay): readonly Running[];
}

export interface StartedService extends Running {
  readonly db: Database;
  readonly grpcPort: number;
}

/**
 * Every queue has a consumer or receives nothing: the relays route by the event catalogue, so a
 * service must handle exactly the types the catalogue sends it (a type it does not handle would
 * be dead-lettered; a queue without a consumer would grow without bound). Checked before the
 * service starts, so a mismatch fails the start rather than the events.
 */
export function checkEventRouting(service: string, handlers: EventHandlers | undefined): void {
  const routed = typesConsumedBy(service);
  const handled = Object.keys(handlers ?? {}).sort();
  if (JSON.stringify([...routed].sort()) !== JSON.stringify(handled)) {
    throw new InvariantViolation(`${service} handles [${handled.join(', ')}] but the event catalogue routes [${routed.join(', ')}] to it`);
  }
}

/**
 * Starts a service the same way everywhere: database and migrations, outbox relay, event
 * consumer, gRPC server with health. Stop reverses it: stop taking calls, finish in-flight work,
 * then close the queues and the pool.
 */
export async function startServiceRuntime(opts: ServiceRuntimeOptions): Promise<StartedService> {
  const db = await Database.open({ clientUrl: opts.databaseUrl, migrations: opts.migrations, entities: opts.entities, logger: opts.logger, poolMax: opts.poolMax });
  await db.migrate();
  await opts.prepare?.(db);
  // One per dependency and process, so that an outage is logged once whichever part notices it.
  const health: DependencyHealths = { database: new DependencyHealth('postgres', opts.logger), redis: new DependencyHealth('redis', opts.logger) };
  const publisher = new BeeQueuePublisher(opts.queues, health.redis);
  const relay = new OutboxRelay(db, publisher, health);
  relay.start();
  const handlers = opts.consumer?.handlers(db);
  checkEventRouting(opts.consumer?.name ?? opts.name, handlers);
  const consumer = opts.consumer && handlers ? new EventConsumer(opts.consumer.name, db, handlers, opts.queues, opts.logger, health, opts.consumer.concurrency) : undefined;
  consumer?.start();
  const server = await startGrpcServer({ host: opts.grpc.host, port: opts.grpc.port, services: opts.services(db, relay), logger: opts.logger });
  const background = opts.background?.(db, relay) ?? [];
  server.setServing(true);
  return {
    db,
    grpcPort: server.port,
    async stop() {
      await server.shutdown();
      await Promise.all(background.map((b) => b.stop()));
      await consumer?.stop();
      await relay.stop();
      await publisher.close();
      await db.close();
    },
  };
}
