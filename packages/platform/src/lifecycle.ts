import type { Logger } from './logger';

/** After SIGTERM a service gets this long to drain before it exits anyway. */
export const SHUTDOWN_TIMEOUT_MS = 20_000;

/** The container keys every app's composition root binds, besides its own ports and use cases. */
export const TYPES = {
  Config: Symbol.for('Config'),
  Logger: Symbol.for('Logger'),
  Clock: Symbol.for('Clock'),
  /** The ServiceRuntime: migrated database, outbox relay; opened once, asynchronously. */
  Runtime: Symbol.for('Runtime'),
  Start: Symbol.for('Start'),
} as const;

export interface Running {
  stop(): Promise<void>;
}

/**
 * Runs a service until SIGTERM or SIGINT, then stops it gracefully: stop taking work, finish
 * in-flight work, close pools, then `flush` (trace spans). A failure to start, or an unhandled
 * rejection, exits non-zero.
 */
export async function runService(name: string, logger: Logger, start: () => Promise<Running>, flush?: () => Promise<void>): Promise<void> {
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection');
    logger.flush();
    process.exit(1);
  });
  let running: Running | undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    // Still starting (a standby waiting for the ledger's lease): nothing is served yet, so it goes now.
    if (running === undefined) {
      logger.info(`${name} stopped before it had started`);
      logger.flush();
      process.exit(0);
    }
    const timer = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      logger.flush();
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    // Once stopped, what is buffered outside the process (trace spans) is sent before it exits.
    running.stop().then(async () => await flush?.().catch((err: unknown) => logger.warn({ err }, 'could not flush on shutdown'))).then(
      () => {
        logger.info(`${name} stopped`);
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        logger.flush();
        process.exit(1);
      },
    );
  };
  // Installed before starting: node as PID 1 (a container) ignores a signal it has no handler for.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    running = await start();
  } catch (e) {
    logger.fatal({ err: e }, `${name} failed to start`);
    logger.flush();
    process.exit(1);
  }
  logger.info(`${name} started`);
}
