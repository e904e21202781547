import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import { DEFAULT_GRPC_PORTS, isWakeUpFor, typesConsumedBy, type Consumer, type ServiceName } from '@bank/contracts';
import { Container } from 'inversify';
import type { Registry } from 'prom-client';
import { InvariantViolation, systemClock, type Clock } from '@bank/kernel';
import { Database } from './db';
import { DependencyHealth, type DependencyHealths } from './dependency';
import { startGrpcServer, type RunningGrpcServer, type ServiceBinding } from './grpc';
import type { WorkloadIdentity } from './identity';
import { EventConsumer, isWakeUp, type EventHandlers } from './inbox';
import { TYPES, runService, type Running } from './lifecycle';
import { isHealthCommand, runHealthCommand } from './health-command';
import { isMigrateCommand, runMigrateCommand } from './migrate-command';
import type { Logger } from './logger';
import { consumerMetrics, createMetricsRegistry, instrumentBindings, registerDatabaseMetrics, startMetricsServer, type MetricsServer } from './metrics';
import { OutboxRelay } from './outbox';
import { BeeQueuePublisher, type QueueConnection } from './queue';

export interface ServiceRuntimeOptions {
  name: string;
  /** The service's own identity: its gRPC server presents it, its clients call with it. */
  identity: WorkloadIdentity;
  logger: Logger;
  databaseUrl: string;
  migrations: readonly MigrationObject[];
  /** MikroORM entity schemas of the service's stores. */
  entities?: readonly EntitySchema[];
  poolMax?: number;
  /** See DatabaseOptions.idleInTransactionTimeoutMs. */
  idleInTransactionTimeoutMs?: number;
  queues: QueueConnection;
  /** The operations port with GET /metrics; 0 picks a free one. */
  metricsPort: number;
  /** Where the metrics port listens (BIND_HOST). */
  metricsHost: string;
}

/** What a composition root built from the runtime, for the runtime to run. */
export interface ServiceParts {
  grpc: { host: string; port: number };
  services: readonly ServiceBinding[];
  /** Present when the service consumes integration events. */
  consumer?: { name: Consumer; handlers: EventHandlers; concurrency?: number };
  /** Background work (sweepers, timers), started once the server is up and stopped before the pool closes. */
  background?: readonly (() => Running)[];
  /** Released last, after the pool: peer clients, mail transports. */
  close?(): Promise<void> | void;
  /**
   * Resolves when this process may do its work (the ledger's writer lease): until then the gRPC
   * server answers NOT_SERVING on grpc.health, and neither the consumer nor the background work
   * runs. Absent: at once.
   */
  activation?: () => Promise<void>;
}

export interface StartedService extends Running {
  readonly db: Database;
  readonly grpcPort: number;
  readonly metricsPort: number;
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
  // A wake-up leaves no inbox row: the catalogue says which types may be one, for this service.
  const mismatched = routed.filter((t) => isWakeUp(handlers?.[t]) !== isWakeUpFor(service, t));
  if (mismatched.length > 0) throw new InvariantViolation(`${service} takes [${mismatched.join(', ')}] as wake-ups where the catalogue's WAKE_UP_EVENTS says otherwise, or the reverse`);
}

/**
 * A service's shared plumbing, opened before its parts are built: the migrated database, the
 * health of its dependencies, the outbox relay (running only once `start` is called). A
 * composition root builds its stores and use cases on `db` and `relay`, then hands them to
 * `start`, which runs them the same way everywhere: outbox relay, event consumer, gRPC server
 * with health, background work. Stop reverses it: stop taking calls, finish in-flight work, then
 * close the queues and the pool.
 */
export class ServiceRuntime {
  private constructor(
    readonly db: Database,
    readonly relay: OutboxRelay,
    private readonly publisher: BeeQueuePublisher,
    private readonly health: DependencyHealths,
    private readonly opts: ServiceRuntimeOptions,
    /** The service's metrics: the runtime's own series are registered; a composition root adds its domain's. */
    readonly metrics: Registry,
  ) {}

  static async open(opts: ServiceRuntimeOptions): Promise<ServiceRuntime> {
    const db = await Database.open({ clientUrl: opts.databaseUrl, migrations: opts.migrations, entities: opts.entities, logger: opts.logger, poolMax: opts.poolMax, idleInTransactionTimeoutMs: opts.idleInTransactionTimeoutMs });
    try {
      await db.migrate();
    } catch (e) {
      await db.close();
      throw e;
    }
    // One per dependency and process, so that an outage is logged once whichever part notices it.
    const health: DependencyHealths = { database: new DependencyHealth('postgres', opts.logger), redis: new DependencyHealth('redis', opts.logger) };
    const publisher = new BeeQueuePublisher(opts.queues, health.redis);
    const metrics = createMetricsRegistry(opts.name);
    registerDatabaseMetrics(metrics, db);
    return new ServiceRuntime(db, new OutboxRelay(db, publisher, health), publisher, health, opts, metrics);
  }

  /**
   * Runs what the composition root built: `build` may first do what must precede serving (keys,
   * system accounts, listeners). If building or starting fails, everything begun is undone, the
   * pool closed and the parts' resources released, and the error rethrown.
   */
  async start(build: ServiceParts | (() => Promise<ServiceParts>)): Promise<StartedService> {
    const { db, relay, publisher, health, opts, metrics } = this;
    let parts: ServiceParts | undefined;
    let consumer: EventConsumer | undefined;
    let server: RunningGrpcServer | undefined;
    let metricsServer: MetricsServer | undefined;
    const background: Running[] = [];
    // Stopping reverses starting: no new calls, then no new events (the consumer's after-commit
    // work still finds the background work running), then background work, relay, queues, pool.
    const stop = async () => {
      await server?.shutdown();
      await consumer?.stop();
      await Promise.all(background.map((b) => b.stop()));
      await relay.stop();
      await publisher.close();
      await db.close();
      await parts?.close?.();
      await metricsServer?.close();
    };
    try {
      parts = typeof build === 'function' ? await build() : build;
      checkEventRouting(parts.consumer?.name ?? opts.name, parts.consumer?.handlers);
      relay.start();
      metricsServer = await startMetricsServer({ registry: metrics, host: opts.metricsHost, port: opts.metricsPort, logger: opts.logger });
      server = await startGrpcServer({ host: parts.grpc.host, port: parts.grpc.port, services: instrumentBindings(metrics, parts.services), identity: opts.identity, logger: opts.logger });
      await parts.activation?.();
      if (parts.consumer) {
        const name = parts.consumer.name;
        const c: EventConsumer = new EventConsumer(name, db, parts.consumer.handlers, opts.queues, opts.logger, health, parts.consumer.concurrency, consumerMetrics(metrics, name, () => c.backlog()));
        consumer = c;
      }
      consumer?.start();
      for (const begin of parts.background ?? []) background.push(begin());
      server.setServing(true);
    } catch (e) {
      await stop().catch((err: unknown) => opts.logger.error({ err }, 'cleaning up after a failed start failed'));
      throw e;
    }
    return { db, grpcPort: server.port, metricsPort: metricsServer.port, stop };
  }
}

/**
 * A service's container with what every composition root binds the same way: its Config and
 * Logger, the system clock, and the ServiceRuntime, opened (and migrated) once, when something
 * that needs it is first resolved. The app binds its own ports, use cases and TYPES.Start.
 */
export function serviceContainer<C>(config: C, runtime: ServiceRuntimeOptions): Container {
  const container = new Container();
  container.bind<C>(TYPES.Config).toConstantValue(config);
  container.bind<Logger>(TYPES.Logger).toConstantValue(runtime.logger);
  container.bind<Clock>(TYPES.Clock).toConstantValue(systemClock);
  container
    .bind<ServiceRuntime>(TYPES.Runtime)
    .toResolvedValue(() => ServiceRuntime.open(runtime), [])
    .inSingletonScope();
  return container;
}

/** Resolves a composition root's one thing, the function that starts it, and starts it. */
export async function startContainer<T>(container: { getAsync<V>(id: symbol): Promise<V> }): Promise<T> {
  const start = await container.getAsync<() => Promise<T>>(TYPES.Start);
  return start();
}

/**
 * A gRPC service's entry point: `main.js` serves; `main.js migrate status|up|down [steps]` only
 * migrates its database (bank-cli migrate runs it so), reading nothing but `databaseUrlVar`;
 * `main.js health` is its container's probe (exit 0 when it serves on `grpcPortVar`).
 */
export function serviceMain(
  name: ServiceName,
  opts: { databaseUrlVar: string; grpcPortVar: string; migrations: readonly MigrationObject[]; container: () => Container; flush?: () => Promise<void> },
): void {
  if (isMigrateCommand()) {
    void runMigrateCommand(name, opts.databaseUrlVar, opts.migrations);
    return;
  }
  if (isHealthCommand()) {
    void runHealthCommand(name, Number(process.env[opts.grpcPortVar] || DEFAULT_GRPC_PORTS[name]));
    return;
  }
  const container = opts.container();
  void runService(name, container.get<Logger>(TYPES.Logger), () => startContainer<StartedService>(container), opts.flush);
}
