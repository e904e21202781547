import type { MigrationObject } from '@mikro-orm/core';
import { Database } from './db';
import { createLogger } from './logger';

/** The first argument that makes a service's entry point migrate its database instead of serving. */
export const MIGRATE_ARGUMENT = 'migrate';
/** `migrate down` reverts at most this many steps in one run: a schema is taken down with care. */
export const MAX_DOWN_STEPS = 20;
const MIGRATE_POOL_MAX = 2;

export type MigrateAction = 'status' | 'up' | 'down';

export interface MigrateReport {
  readonly service: string;
  readonly action: MigrateAction;
  /** What this run applied (up) or reverted (down); empty for status. */
  readonly changed: readonly string[];
  readonly applied: readonly string[];
  readonly pending: readonly string[];
}

/** Whether this process was started as `main.js migrate ...` (by bank-cli migrate). */
export function isMigrateCommand(argv: readonly string[] = process.argv): boolean {
  return argv[2] === MIGRATE_ARGUMENT;
}

/**
 * The service's own migrations, run by its own entry point: `node main.js migrate status|up|down
 * [steps]`, with only its database URL set. The service owns its schema, so bank-cli asks it
 * rather than carrying copies; the report is one JSON line on stdout, errors go to stderr.
 */
export async function runMigrateCommand(service: string, databaseUrlVar: string, migrations: readonly MigrationObject[], argv: readonly string[] = process.argv): Promise<void> {
  const [action, stepsRaw] = argv.slice(3);
  const url = process.env[databaseUrlVar];
  const steps = stepsRaw === undefined ? 1 : Number(stepsRaw);
  if (action !== 'status' && action !== 'up' && action !== 'down') {
    process.stderr.write(`${service}: usage: main.js migrate status|up|down [steps]\n`);
    process.exitCode = 2;
    return;
  }
  if (!Number.isSafeInteger(steps) || steps < 1 || steps > MAX_DOWN_STEPS) {
    process.stderr.write(`${service}: steps must be 1 to ${MAX_DOWN_STEPS}\n`);
    process.exitCode = 2;
    return;
  }
  if (url === undefined || url === '') {
    process.stderr.write(`${service}: ${databaseUrlVar} must name the database to migrate\n`);
    process.exitCode = 78;
    return;
  }
  const db = await Database.open({ clientUrl: url, migrations, logger: createLogger(service, 'warn'), poolMax: MIGRATE_POOL_MAX });
  try {
    const changed = action === 'up' ? await db.migrate() : action === 'down' ? await db.migrateDown(steps) : [];
    const { applied, pending } = await db.migrations();
    const report: MigrateReport = { service, action, changed, applied, pending };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } catch (e) {
    process.stderr.write(`${service}: migrate ${action} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  } finally {
    await db.close();
  }
}
