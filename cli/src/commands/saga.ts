import type { Command } from 'commander';
import { paymentV1 } from '@bank/contracts';
import { isCurrency, isUuid, newId } from '@bank/kernel';
import { MAX_WAIT_SECONDS } from '@bank/payments-core';
import { StackError } from '../stack/errors';
import { EXIT_USAGE, minorUnits, operatorAction, positiveInt, serviceNamed, type Call } from './context';
import { DEFAULT_BOUNDS_S } from './verify';

/** Sagas listed at most. */
export const SAGA_PAGE_SIZE = 1_000;
/** resume and compensate wait for the saga this long (payment-service bounds its own wait below it). */
const SAGA_CALL_TIMEOUT_MS = 15_000;
/** A triggered payment's call outlives the wait it asks for by this much. */
const SAGA_CALL_TIMEOUT_S_MARGIN = 5;
const PAYMENTS = serviceNamed('payment-service');
const STEPS = ['accepted', 'hold_placed', 'checked', 'captured', 'compensating', 'compensated', 'needs_attention'] as const;
const STATUS_NAME: Record<number, string> = {
  [paymentV1.PaymentStatus.PAYMENT_STATUS_PENDING]: 'pending',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_COMPLETED]: 'completed',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_FAILED]: 'failed',
  [paymentV1.PaymentStatus.PAYMENT_STATUS_CANCELLED]: 'cancelled',
};

interface SagaRow {
  id: string;
  status: string;
  step: string;
  amount: string;
  currency: string;
  attempts: number;
  failure_code: string | null;
  created_at: Date;
  deadline_at: Date;
}

function paymentId(raw: string): string {
  if (!isUuid(raw)) throw new StackError(`${raw} is not a payment id (a UUID)`, EXIT_USAGE);
  return raw.toLowerCase();
}

const paymentJson = (p: paymentV1.Payment) => ({ ...p, status: STATUS_NAME[p.status] ?? 'unknown', failureCode: p.failureCode || null, completedAt: p.completedAt ?? null });

/** `bank-cli saga list|show|resume|compensate|trigger payment`: payment sagas. */
export function registerSaga(program: Command): void {
  const group = program.command('saga').description('payment sagas: list them, show one whole timeline, resume, compensate or trigger one');
  const list = group
    .command('list')
    .description('sagas, newest first: every one, those of one step, or the stuck ones')
    .option('--stuck', `neither terminal nor parked ${DEFAULT_BOUNDS_S.saga} s after they began, or parked for an operator (needs_attention)`)
    .option('--state <step>', `one step: ${STEPS.join(', ')}`)
    .option('--limit <n>', `at most (up to ${SAGA_PAGE_SIZE})`, '100')
    .addHelpText('after', '\nExamples:\n  bank-cli saga list --stuck\n  bank-cli --json saga list --state needs_attention');
  list.action(
    operatorAction(list, async (ctx, opts: { stuck?: boolean; state?: string; limit: string }) => {
      if (opts.state !== undefined && !(STEPS as readonly string[]).includes(opts.state)) throw new StackError(`--state must be one of ${STEPS.join(', ')}`, EXIT_USAGE);
      const limit = positiveInt('--limit', opts.limit, SAGA_PAGE_SIZE);
      const rows = await ctx.withDatabase(PAYMENTS, async (db) => {
        const { rows } = await db.sql.query<SagaRow>(
          `SELECT id, status, step, amount::text AS amount, currency, attempts, failure_code, created_at, deadline_at FROM payments
            WHERE ($1::text IS NULL OR step = $1)
              AND (NOT $2 OR step = 'needs_attention' OR (status = 'pending' AND created_at < now() - make_interval(secs => $3)))
            ORDER BY created_at DESC, id DESC LIMIT $4`,
          [opts.state ?? null, opts.stuck === true, DEFAULT_BOUNDS_S.saga, limit],
        );
        return rows;
      });
      const sagas = rows.map((r) => ({ id: r.id, status: r.status, step: r.step, amount: r.amount, currency: r.currency.trim(), attempts: r.attempts, failureCode: r.failure_code, createdAt: new Date(r.created_at), nextAttemptAt: new Date(r.deadline_at) }));
      const lines = sagas.map((s) => `${s.id}  ${s.createdAt.toISOString()}  ${s.status.padEnd(9)} ${s.step.padEnd(15)} ${s.amount} ${s.currency}  attempts ${s.attempts}${s.failureCode ? `  ${s.failureCode}` : ''}`);
      return { human: [...lines, `${sagas.length} saga(s)`].join('\n'), sagas };
    }),
  );

  const show = group
    .command('show <paymentId>')
    .description("a payment's whole timeline: saga steps, ledger transfers, events and their publication, emails")
    .addHelpText('after', '\nExamples:\n  bank-cli saga show 0190f3c2-7d1e-7c3a-9b7e-2f1d3c4b5a69\n  bank-cli --json saga show <paymentId> | jq .events');
  show.action(
    operatorAction(show, async (ctx, raw: string) => {
      const id = paymentId(raw);
      const t = await ctx.withClient(paymentV1.PaymentServiceClient, (c, call) => call<paymentV1.GetPaymentTimelineResponse>((md, o, cb) => c.getPaymentTimeline({ paymentId: id }, md, o, cb), SAGA_CALL_TIMEOUT_MS));
      const p = t.payment as paymentV1.Payment;
      const events = t.events.map((e) => ({ at: e.at ?? new Date(0), source: e.source, kind: e.kind, detail: e.detail }));
      const head = `payment ${p.id}: ${p.amount} ${p.currency} from ${p.sourceAccountId} to ${p.destinationAccountId}, ${STATUS_NAME[p.status]}${p.failureCode ? ` (${p.failureCode})` : ''}`;
      const lines = events.map((e) => `${e.at.toISOString()}  ${e.source.padEnd(21)} ${e.kind.padEnd(26)} ${e.detail}`);
      return { human: [head, ...lines].join('\n'), payment: paymentJson(p), events };
    }),
  );

  const changing = (name: 'resume' | 'compensate', description: string, example: string, send: (c: paymentV1.PaymentServiceClient, id: string, call: Call) => Promise<paymentV1.Payment>) => {
    const command = group.command(`${name} <paymentId>`).description(description).addHelpText('after', `\nExamples:\n  ${example}`);
    command.action(
      operatorAction(command, async (ctx, raw: string) => {
        const id = paymentId(raw);
        const p = await ctx.audited(PAYMENTS, `saga ${name}`, { paymentId: id }, async () =>
          paymentJson(await ctx.withClient(paymentV1.PaymentServiceClient, (c, call) => send(c, id, call))),
        );
        return { human: `payment ${p.id} is ${p.status}${p.failureCode ? ` (${p.failureCode})` : ''}`, payment: p };
      }),
    );
  };
  changing(
    'resume',
    'take a stalled saga up now, or a parked one (needs_attention) into a new round of compensation',
    'bank-cli saga resume <paymentId> --reason "payment-service was down"',
    (c, id, call) => call<paymentV1.Payment>((md, o, cb) => c.resumePayment({ paymentId: id }, md, o, cb), SAGA_CALL_TIMEOUT_MS),
  );
  changing(
    'compensate',
    'undo a payment not yet captured: its hold is voided and it ends cancelled',
    'bank-cli saga compensate <paymentId> --reason "customer dispute"',
    (c, id, call) => call<paymentV1.Payment>((md, o, cb) => c.cancelPayment({ paymentId: id }, md, o, cb), SAGA_CALL_TIMEOUT_MS),
  );

  const trigger = group.command('trigger').description('start a saga by hand');
  const payment = trigger
    .command('payment')
    .description("pay from a customer's account on their behalf, through payment-service's own saga (limits, holds, events, emails as for any payment)")
    .requiredOption('--from <accountId>', 'the source account (any customer\'s)')
    .requiredOption('--to <accountId>', 'the destination account')
    .requiredOption('--amount <minor>', 'whole minor units: 1250 is 12.50')
    .requiredOption('--currency <code>', 'ISO 4217, the currency of both accounts')
    .option('--description <text>', 'shown to both customers', '')
    .option('--idempotency-key <key>', 'repeat a trigger safely: the same key answers with the same payment (default: a new one each time)')
    .option('--wait <s>', `wait up to this many seconds for the saga to end (up to ${MAX_WAIT_SECONDS})`, '10')
    .addHelpText('after', '\nExamples:\n  bank-cli saga trigger payment --from <accountId> --to <accountId> --amount 1250 --currency EUR --reason "refund ticket 4411"');
  payment.action(
    operatorAction(payment, async (ctx, opts: { from: string; to: string; amount: string; currency: string; description: string; idempotencyKey?: string; wait: string }) => {
      const currency = opts.currency.toUpperCase();
      if (!isCurrency(currency)) throw new StackError(`--currency ${opts.currency} is not a currency the bank supports`, EXIT_USAGE);
      const request: paymentV1.CreatePaymentRequest = {
        idempotencyKey: opts.idempotencyKey ?? `bank-cli:${newId()}`,
        sourceAccountId: opts.from,
        destinationAccountId: opts.to,
        amount: minorUnits('--amount', opts.amount),
        currency,
        description: opts.description,
        waitSeconds: Number(opts.wait) === 0 ? 0 : positiveInt('--wait', opts.wait, MAX_WAIT_SECONDS),
      };
      const res = await ctx.audited(PAYMENTS, 'saga trigger payment', { ...request }, () =>
        ctx.withClient(paymentV1.PaymentServiceClient, (c, call) => call<paymentV1.CreatePaymentResponse>((md, o, cb) => c.createPayment(request, md, o, cb), (request.waitSeconds + SAGA_CALL_TIMEOUT_S_MARGIN) * 1000)),
      );
      const p = paymentJson(res.payment as paymentV1.Payment);
      return { human: `payment ${p.id} is ${p.status}${p.failureCode ? ` (${p.failureCode})` : ''}${res.replayed ? ' (an earlier trigger with this key)' : ''}`, payment: p, replayed: res.replayed, idempotencyKey: request.idempotencyKey };
    }),
  );
}
