import type { Command } from 'commander';
import { listOperatorActions, type AuditRow } from '@bank/platform';
import { StackError } from '../stack/errors';
import { GRPC_SERVICES } from '../stack/layout';
import { EXIT_USAGE, operatorAction } from './context';

/** `audit list` looks back this far unless told otherwise. */
const DEFAULT_AUDIT_WINDOW_MS = 7 * 24 * 3600_000;

/** `bank-cli audit list`: what operators did, across every service whose database bank-cli can reach. */
export function registerAudit(program: Command): void {
  const group = program.command('audit').description('what operators changed with bank-cli: who, when, why, the command, its arguments and result');
  const list = group
    .command('list')
    .description('the operator actions recorded in each service, oldest first')
    .option('--since <time>', 'an ISO 8601 time (default: a week ago)')
    .addHelpText('after', '\nExamples:\n  bank-cli audit list\n  bank-cli --json audit list --since 2026-12-01T00:00:00Z');
  list.action(
    operatorAction(list, async (ctx, opts: { since?: string }) => {
      const since = opts.since === undefined ? new Date(Date.now() - DEFAULT_AUDIT_WINDOW_MS) : new Date(opts.since);
      if (Number.isNaN(since.getTime())) throw new StackError('--since must be an ISO 8601 time', EXIT_USAGE);
      const entries: (AuditRow & { service: string })[] = [];
      const unreachable: string[] = [];
      for (const s of GRPC_SERVICES) {
        try {
          ctx.databaseUrl(s);
        } catch {
          unreachable.push(s.name);
          continue;
        }
        entries.push(...(await ctx.withDatabase(s, (db) => listOperatorActions(db.sql, since))).map((r) => ({ ...r, service: s.name })));
      }
      entries.sort((a, b) => a.at.getTime() - b.at.getTime());
      const lines = entries.map((e) => `${e.at.toISOString()}  ${e.service.padEnd(21)} ${e.osUser}  ${e.ok ? 'ok    ' : 'FAILED'}  ${e.command} ${JSON.stringify(e.arguments)}${e.reason ? `  reason: ${e.reason}` : ''}`);
      if (unreachable.length > 0) lines.push(`not read (no database URL): ${unreachable.join(', ')}`);
      lines.push(`${entries.length} action(s)`);
      return { human: lines.join('\n'), entries, unreachable };
    }),
  );
}
