import { execFile } from 'node:child_process';
import { createInterface } from 'node:readline/promises';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { MAX_DOWN_STEPS, type MigrateAction, type MigrateReport } from '@bank/platform';
import { StackError } from '../stack/errors';
import { GRPC_SERVICES, appEntry, databaseUrlVar, type GrpcServiceDef } from '../stack/layout';
import { EXIT_USAGE, operatorAction, positiveInt, serviceNamed, type OperatorContext } from './context';

const exec = promisify(execFile);
/** One service's migrations; a schema change on a large table can take a while. */
export const MIGRATE_TIMEOUT_MS = 10 * 60_000;

/**
 * Asks the service itself (its entry point's `migrate` mode) to report or change its schema: each
 * service owns its migrations, bank-cli only says which and where.
 */
async function migrateService(ctx: OperatorContext, service: GrpcServiceDef, action: MigrateAction, steps = 1): Promise<MigrateReport> {
  const env = { PATH: process.env.PATH ?? '', [databaseUrlVar(service.prefix)]: ctx.databaseUrl(service) };
  try {
    const { stdout } = await exec(process.execPath, [appEntry(service.name), 'migrate', action, String(steps)], { env, timeout: MIGRATE_TIMEOUT_MS });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '') as MigrateReport;
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    throw new StackError(`${service.name}: ${(err.stderr ?? err.message ?? String(e)).trim()}`);
  }
}

function selected(opts: { service?: string; all?: boolean }): readonly GrpcServiceDef[] {
  if (opts.service !== undefined && opts.all === true) throw new StackError('--service and --all exclude each other', EXIT_USAGE);
  return opts.service !== undefined ? [serviceNamed(opts.service)] : GRPC_SERVICES;
}

function describe(r: MigrateReport): string {
  const changed = r.changed.length > 0 ? `${r.action === 'up' ? 'applied' : 'reverted'} ${r.changed.join(', ')}; ` : '';
  return `${r.service.padEnd(22)} ${changed}${r.applied.length} applied${r.applied.length > 0 ? ` (last ${r.applied[r.applied.length - 1]})` : ''}, ${r.pending.length} pending${r.pending.length > 0 ? `: ${r.pending.join(', ')}` : ''}`;
}

async function confirmed(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** `bank-cli migrate up|down|status`: each service's database schema. */
export function registerMigrate(program: Command): void {
  const group = program.command('migrate').description("each service's database schema: status, up, down (one step at a time)");
  const status = group
    .command('status')
    .description('applied and pending migrations of each service (or one)')
    .option('--service <name>', 'one service (auth, user, transaction, payment, notification)')
    .option('--all', 'every service (the default)')
    .addHelpText('after', '\nExamples:\n  bank-cli migrate status\n  bank-cli --json migrate status --service payment');
  status.action(
    operatorAction(status, async (ctx, opts: { service?: string; all?: boolean }) => {
      const reports: MigrateReport[] = [];
      for (const s of selected(opts)) reports.push(await migrateService(ctx, s, 'status'));
      return { human: reports.map(describe).join('\n'), services: reports };
    }),
  );
  const up = group
    .command('up')
    .description('apply pending migrations (every service, or one)')
    .option('--service <name>', 'one service')
    .option('--all', 'every service (the default)')
    .addHelpText('after', '\nExamples:\n  bank-cli migrate up --all\n  bank-cli migrate up --service ledger --reason "release 1.4"');
  up.action(
    operatorAction(up, async (ctx, opts: { service?: string; all?: boolean }) => {
      const reports: MigrateReport[] = [];
      const services = selected(opts);
      const bar = ctx.progress(services.length, 'migrating');
      try {
        for (const s of services) {
          reports.push(await ctx.audited(s, 'migrate up', { service: s.name }, () => migrateService(ctx, s, 'up')));
          bar.increment();
        }
      } finally {
        bar.stop();
      }
      return { human: reports.map(describe).join('\n'), services: reports };
    }),
  );
  const down = group
    .command('down')
    .description("revert one service's newest migration(s); asks first unless --yes")
    .requiredOption('--service <name>', 'the service (down is never for all at once)')
    .option('--steps <n>', `how many, newest first (at most ${MAX_DOWN_STEPS})`, '1')
    .option('--yes', 'do not ask for confirmation')
    .addHelpText('after', '\nExamples:\n  bank-cli migrate down --service notification\n  bank-cli migrate down --service payment --steps 2 --yes --reason "roll back 1.4"');
  down.action(
    operatorAction(down, async (ctx, opts: { service: string; steps: string; yes?: boolean }) => {
      const service = serviceNamed(opts.service);
      const steps = positiveInt('--steps', opts.steps, MAX_DOWN_STEPS);
      if (opts.yes !== true) {
        if (process.stdin.isTTY !== true) throw new StackError('migrate down changes the schema: confirm with --yes when not at a terminal', EXIT_USAGE);
        if (!(await confirmed(`revert ${steps} migration(s) of ${service.name}? Its data in them is lost.`))) return { human: 'nothing reverted', services: [] };
      }
      const report = await ctx.audited(service, 'migrate down', { service: service.name, steps }, () => migrateService(ctx, service, 'down', steps));
      return { human: describe(report), services: [report] };
    }),
  );
}
