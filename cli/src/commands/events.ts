import type { Command } from 'commander';
import { ledgerV1 } from '@bank/contracts';
import { isUuid } from '@bank/kernel';
import { BeeQueuePublisher, DEAD_LETTER_PAGE_SIZE, DependencyHealth, OUTBOX_PAGE_SIZE, createLogger, dropDeadLetter, listDeadLetters, listOutbox, queueBacklogs, replayOutbox, requeueDeadLetter, type OutboxEntry, type OutboxSelection } from '@bank/platform';
import { EXIT_FAILURE, StackError } from '../stack/errors';
import { GRPC_SERVICES, type GrpcServiceDef } from '../stack/layout';
import { EXIT_USAGE, operatorAction, positiveInt, serviceNamed, type OperatorContext } from './context';

/** Holds listed at most. */
export const HOLDS_PAGE_SIZE = 1_000;
const EXPIRE_TIMEOUT_MS = 60_000;
const LEDGER = serviceNamed('transaction-service');

interface SelectionOptions {
  service?: string;
  id?: string;
  aggregate?: string;
  since?: string;
  limit: string;
}

function selectionOf(opts: SelectionOptions): { services: readonly GrpcServiceDef[]; selection: OutboxSelection } {
  const since = opts.since === undefined ? undefined : new Date(opts.since);
  if (since !== undefined && Number.isNaN(since.getTime())) throw new StackError('--since must be an ISO 8601 time', EXIT_USAGE);
  return {
    services: opts.service === undefined ? GRPC_SERVICES : [serviceNamed(opts.service)],
    selection: { eventId: opts.id, aggregateId: opts.aggregate, since, limit: positiveInt('--limit', opts.limit, OUTBOX_PAGE_SIZE) },
  };
}

const line = (service: string, e: OutboxEntry) =>
  `${service.padEnd(21)} #${e.position}  ${e.envelope.occurredAt}  ${e.envelope.type.padEnd(20)} ${e.envelope.id}  aggregate ${e.envelope.aggregateId}  ${e.publishedAt === null ? 'UNPUBLISHED' : `published ${e.publishedAt.toISOString()}`}`;

const asJson = (service: string, e: OutboxEntry) => ({ service, position: e.position, publishedAt: e.publishedAt, ...e.envelope });

function withSelectionOptions(command: Command): Command {
  return command
    .option('--service <name>', 'one service (default: every service whose database bank-cli can reach)')
    .option('--id <eventId>', 'one event')
    .option('--aggregate <id>', "one aggregate's events (an account, a payment, a user)")
    .option('--since <time>', 'events that occurred at or after this ISO 8601 time')
    .option('--limit <n>', `at most this many per service (up to ${OUTBOX_PAGE_SIZE})`, '100');
}

async function selectedEntries(ctx: OperatorContext, opts: SelectionOptions): Promise<{ service: GrpcServiceDef; entries: OutboxEntry[] }[]> {
  const { services, selection } = selectionOf(opts);
  const found: { service: GrpcServiceDef; entries: OutboxEntry[] }[] = [];
  for (const s of services) {
    // Every service: those bank-cli was not told of are left out; one named explicitly must be reachable.
    if (opts.service === undefined) {
      try {
        ctx.databaseUrl(s);
      } catch {
        continue;
      }
    }
    found.push({ service: s, entries: await ctx.withDatabase(s, (db) => listOutbox(db.sql, selection)) });
  }
  return found;
}

/** `bank-cli outbox list|replay`: the events each service wrote, and publishing them again. */
export function registerOutbox(program: Command): void {
  const group = program.command('outbox').description("each service's outbox: the events it wrote, and publishing them again");
  const list = withSelectionOptions(group.command('list').description('events in the outboxes, oldest first')).addHelpText(
    'after',
    '\nExamples:\n  bank-cli outbox list --service payment --since 2026-12-01T00:00:00Z\n  bank-cli --json outbox list --aggregate 0190f3c2-...',
  );
  list.action(
    operatorAction(list, async (ctx, opts: SelectionOptions) => {
      const found = await selectedEntries(ctx, opts);
      const lines = found.flatMap(({ service, entries }) => entries.map((e) => line(service.name, e)));
      const total = found.reduce((n, f) => n + f.entries.length, 0);
      return { human: [...lines, `${total} event(s)`].join('\n'), events: found.flatMap(({ service, entries }) => entries.map((e) => asJson(service.name, e))) };
    }),
  );
  const replay = withSelectionOptions(group.command('replay').description("publish events again to their consumers (harmless: each consumer applies an event once)"))
    .option('--dry-run', 'say what would be published, publish nothing')
    .addHelpText('after', '\nExamples:\n  bank-cli outbox replay --service user --aggregate <accountId> --dry-run\n  bank-cli outbox replay --id <eventId> --reason "notification lost in the outage"');
  replay.action(
    operatorAction(replay, async (ctx, opts: SelectionOptions & { dryRun?: boolean }) => {
      if (opts.id === undefined && opts.aggregate === undefined && opts.since === undefined) throw new StackError('say which events: --id, --aggregate or --since', EXIT_USAGE);
      const found = await selectedEntries(ctx, opts);
      const total = found.reduce((n, f) => n + f.entries.length, 0);
      if (opts.dryRun === true) {
        return { human: [...found.flatMap(({ service, entries }) => entries.map((e) => line(service.name, e))), `would replay ${total} event(s)`].join('\n'), dryRun: true, events: found.flatMap(({ service, entries }) => entries.map((e) => asJson(service.name, e))) };
      }
      const publisher = new BeeQueuePublisher(ctx.queues(), new DependencyHealth('redis', createLogger('bank-cli', 'warn')));
      const results: { service: string; events: number; deliveries: number }[] = [];
      try {
        for (const { service, entries } of found) {
          if (entries.length === 0) continue;
          const args = { service: service.name, id: opts.id, aggregate: opts.aggregate, since: opts.since, limit: opts.limit };
          results.push({ service: service.name, ...(await ctx.audited(service, 'outbox replay', args, () => replayOutbox(publisher, entries))) });
        }
      } finally {
        await publisher.close();
      }
      const deliveries = results.reduce((n, r) => n + r.deliveries, 0);
      return { human: `replayed ${total} event(s) as ${deliveries} deliveries`, dryRun: false, replayed: results };
    }),
  );
}

interface HoldRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  currency: string;
  reference: string;
  created_at: Date;
  expires_at: Date;
}

async function openHolds(ctx: OperatorContext, expiredOnly: boolean, limit: number): Promise<HoldRow[]> {
  return ctx.withDatabase(LEDGER, async (db) => {
    const { rows } = await db.sql.query<HoldRow>(
      `SELECT t.id, t.debit_account_id, t.credit_account_id, t.amount::text AS amount, t.currency, t.reference, t.created_at, h.expires_at
         FROM open_holds h JOIN transfers t ON t.id = h.pending_id
        WHERE NOT $1 OR h.expires_at <= now() ORDER BY h.expires_at LIMIT $2`,
      [expiredOnly, limit],
    );
    return rows;
  });
}

const holdJson = (h: HoldRow) => ({ id: h.id, debitAccountId: h.debit_account_id, creditAccountId: h.credit_account_id, amount: h.amount, currency: h.currency.trim(), reference: h.reference, createdAt: new Date(h.created_at), expiresAt: new Date(h.expires_at) });
const holdLine = (h: HoldRow) => `${h.id}  ${h.amount} ${h.currency.trim()}  ${h.debit_account_id} -> ${h.credit_account_id}  ${h.reference || '(no reference)'}  expires ${new Date(h.expires_at).toISOString()}`;

/** `bank-cli holds list|expire-now`: the ledger's open holds. */
export function registerHolds(program: Command): void {
  const group = program.command('holds').description("the ledger's open holds (pending transfers)");
  const list = group
    .command('list')
    .description('open holds, soonest to expire first')
    .option('--expired', 'only those past their timeout (the sweeper voids them on its next round)')
    .option('--limit <n>', `at most (up to ${HOLDS_PAGE_SIZE})`, '100')
    .addHelpText('after', '\nExamples:\n  bank-cli holds list --expired\n  bank-cli --json holds list --limit 1000');
  list.action(
    operatorAction(list, async (ctx, opts: { expired?: boolean; limit: string }) => {
      const holds = await openHolds(ctx, opts.expired === true, positiveInt('--limit', opts.limit, HOLDS_PAGE_SIZE));
      return { human: [...holds.map(holdLine), `${holds.length} open hold(s)${opts.expired === true ? ' past their timeout' : ''}`].join('\n'), holds: holds.map(holdJson) };
    }),
  );
  const expire = group
    .command('expire-now')
    .description('void every hold past its timeout now, through transaction-service (as its sweeper would)')
    .option('--dry-run', 'list the holds that would be voided, void nothing')
    .addHelpText('after', '\nExamples:\n  bank-cli holds expire-now --dry-run\n  bank-cli holds expire-now --reason "sweeper was paused"');
  expire.action(
    operatorAction(expire, async (ctx, opts: { dryRun?: boolean }) => {
      if (opts.dryRun === true) {
        const due = await openHolds(ctx, true, HOLDS_PAGE_SIZE);
        return { human: [...due.map(holdLine), `would void ${due.length} hold(s)`].join('\n'), dryRun: true, holds: due.map(holdJson) };
      }
      const res = await ctx.audited(LEDGER, 'holds expire-now', {}, () =>
        ctx.withClient(ledgerV1.LedgerServiceClient, (c, call) => call<ledgerV1.ExpireDueHoldsResponse>((md, o, cb) => c.expireDueHolds({}, md, o, cb), EXPIRE_TIMEOUT_MS)),
      );
      return { human: `voided ${res.expired} expired hold(s)`, dryRun: false, expired: res.expired };
    }),
  );
}

/** `bank-cli queues`: the backlog of each consumer's event queue. */
export function registerQueues(program: Command): void {
  const queues = program
    .command('queues')
    .description("each consuming service's event queue: waiting, active, delayed (retries in back-off), failed")
    .addHelpText('after', '\nExamples:\n  bank-cli queues\n  bank-cli --json queues');
  queues.action(
    operatorAction(queues, async (ctx) => {
      const backlogs = await queueBacklogs(ctx.queues(), new DependencyHealth('redis', createLogger('bank-cli', 'warn')));
      const lines = backlogs.map((b) => `${b.consumer.padEnd(22)} waiting ${b.waiting}  active ${b.active}  delayed ${b.delayed}  failed ${b.failed}${b.routedTypes === 0 ? '  (no event type is routed here)' : ''}`);
      return { human: lines.join('\n'), queues: backlogs };
    }),
  );
}

function deadLetterId(raw: string): void {
  if (!isUuid(raw)) throw new StackError(`${raw} is not a dead letter's id (a UUID, as dead-letters list shows)`, EXIT_USAGE);
}

/** `bank-cli dead-letters list|requeue|drop`: events a consumer gave up on after its retries. */
export function registerDeadLetters(program: Command): void {
  const group = program.command('dead-letters').description("events a service's consumer gave up on after its retries: list, requeue or drop them");
  const list = group
    .command('list')
    .description('open dead letters of one consuming service, oldest first')
    .requiredOption('--service <name>', 'the consuming service: user, transaction, payment or notification')
    .option('--limit <n>', `at most (up to ${DEAD_LETTER_PAGE_SIZE})`, String(DEAD_LETTER_PAGE_SIZE))
    .addHelpText('after', '\nExamples:\n  bank-cli dead-letters list --service notification\n  bank-cli --json dead-letters list --service payment');
  list.action(
    operatorAction(list, async (ctx, opts: { service: string; limit: string }) => {
      const rows = await ctx.withDatabase(serviceNamed(opts.service), (db) => listDeadLetters(db, positiveInt('--limit', opts.limit, DEAD_LETTER_PAGE_SIZE)));
      const lines = rows.map((r) => `${r.id}  ${r.failedAt.toISOString()}  ${r.type}  event ${r.eventId}  attempts ${r.attempts}  ${r.error}`);
      return { human: [...lines, `${rows.length} dead letter(s)`].join('\n'), deadLetters: rows };
    }),
  );
  const requeue = group
    .command('requeue <id>')
    .description("put a dead letter back on its consumer's queue with a fresh retry budget")
    .requiredOption('--service <name>', 'the consuming service')
    .addHelpText('after', '\nExamples:\n  bank-cli dead-letters requeue <id> --service notification --reason "SMTP relay is back"');
  requeue.action(
    operatorAction(requeue, async (ctx, id: string, opts: { service: string }) => {
      deadLetterId(id);
      const service = serviceNamed(opts.service);
      const publisher = new BeeQueuePublisher(ctx.queues(), new DependencyHealth('redis', createLogger('bank-cli', 'warn')));
      try {
        const requeued = await ctx.audited(service, 'dead-letters requeue', { id }, () => ctx.withDatabase(service, (db) => requeueDeadLetter(db, publisher, id)));
        if (!requeued) throw new StackError(`no open dead letter ${id} in ${service.name}`, EXIT_FAILURE);
        return { human: `requeued ${id}`, requeued: id };
      } finally {
        await publisher.close();
      }
    }),
  );
  const drop = group
    .command('drop <id>')
    .description('give up on a dead letter for good (its effect was made by hand, or is not wanted); it stays recorded with the reason')
    .requiredOption('--service <name>', 'the consuming service')
    .addHelpText('after', '\nExamples:\n  bank-cli dead-letters drop <id> --service notification --reason "customer closed; email not wanted"');
  drop.action(
    operatorAction(drop, async (ctx, id: string, opts: { service: string }) => {
      deadLetterId(id);
      if (ctx.reason.trim() === '') throw new StackError('say why with --reason: a dropped event is never delivered', EXIT_USAGE);
      const service = serviceNamed(opts.service);
      const dropped = await ctx.audited(service, 'dead-letters drop', { id }, () => ctx.withDatabase(service, (db) => dropDeadLetter(db, id, ctx.reason)));
      if (!dropped) throw new StackError(`no open dead letter ${id} in ${service.name}`, EXIT_FAILURE);
      return { human: `dropped ${id}`, dropped: id };
    }),
  );
}
