import type { Command } from 'commander';
import { ledgerV1 } from '@bank/contracts';
import { depositIdOfReference, paymentIdOfReference } from '@bank/kernel';
import { depositTransferId, paymentTransferIds } from '@bank/payments-core';
import type { Database } from '@bank/platform';
import { StackError } from '../stack/errors';
import { GRPC_SERVICES, type GrpcServiceDef } from '../stack/layout';
import { operatorAction, positiveInt, serviceNamed, type OperatorContext } from './context';

/** Verifying a large ledger scans every account, transfer and entry. */
export const VERIFY_TIMEOUT_MS = 10 * 60_000;
/** Rows read per query while joining payments with the ledger, so memory stays bounded. */
export const VERIFY_PAGE_SIZE = 5_000;
/** Violations printed per check; the count is always whole. */
export const MAX_VIOLATIONS_SHOWN = 50;
/** The bounds a healthy bank keeps, in seconds; each is an option. */
export const DEFAULT_BOUNDS_S = {
  // Above the ledger's largest expiry-sweep interval (60 s): a hold past its timeout longer than
  // this is one the sweeper is not voiding.
  hold: 120,
  // The relay publishes within milliseconds; a row this old means it is stuck.
  outbox: 60,
  // A saga ends (or parks) within its deadline; one still moving after this is stuck.
  saga: 300,
} as const;
const MAX_BOUND_S = 7 * 24 * 3600;

const LEDGER = serviceNamed('transaction-service');
const PAYMENTS = serviceNamed('payment-service');

interface Check {
  readonly name: string;
  readonly checked: number;
  readonly violations: readonly string[];
  /** Why the check could not run (a database bank-cli was not told of). */
  readonly skipped?: string;
}

type Bounds = { hold: number; outbox: number; saga: number };

/** The ledger's own invariants, asked of transaction-service. */
async function ledgerInvariants(ctx: OperatorContext): Promise<Check> {
  const report = await ctx.withClient(ledgerV1.LedgerServiceClient, (c, call) => call<ledgerV1.VerifyInvariantsResponse>((md, o, cb) => c.verifyInvariants({}, md, o, cb), VERIFY_TIMEOUT_MS));
  return { name: 'ledger invariants (Σdebits = Σcredits, balances = Σentries, flags, one resolution per hold)', checked: Number(report.accountsChecked + report.transfersChecked), violations: report.violations.map((v) => `${v.invariant}: ${v.detail}`) };
}

/** Holds still open past their timeout plus the bound: the sweeper is not voiding them. */
async function staleHolds(ledger: Database, bounds: Bounds): Promise<Check> {
  const { rows } = await ledger.sql.query<{ id: string; reference: string; expires_at: Date }>(
    `SELECT t.id, t.reference, h.expires_at FROM open_holds h JOIN transfers t ON t.id = h.pending_id
      WHERE h.expires_at < now() - make_interval(secs => $1) ORDER BY h.expires_at LIMIT $2`,
    [bounds.hold, VERIFY_PAGE_SIZE],
  );
  const open = await ledger.sql.query<{ n: string }>('SELECT count(*) AS n FROM open_holds');
  return { name: `no hold open more than ${bounds.hold} s past its timeout`, checked: Number(open.rows[0]?.n ?? 0), violations: rows.map((r) => `hold ${r.id} (${r.reference}) expired at ${new Date(r.expires_at).toISOString()} and is still open`) };
}

/**
 * Payments against the ledger, both ways: a completed payment's hold was posted, a failed or
 * cancelled one's never was (voided, expired or never placed), and every posted payment hold
 * belongs to a completed payment.
 */
async function paymentsAgainstLedger(payments: Database, ledger: Database): Promise<Check[]> {
  const forward: string[] = [];
  let checked = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await payments.sql.query<{ id: string; status: string }>(
      "SELECT id, status FROM payments WHERE id > $1 AND status IN ('completed', 'failed', 'cancelled') ORDER BY id LIMIT $2",
      [after, VERIFY_PAGE_SIZE],
    );
    if (rows.length === 0) break;
    checked += rows.length;
    after = rows[rows.length - 1]?.id ?? after;
    const holds = new Map(rows.map((r) => [paymentTransferIds(r.id).hold, r]));
    const { rows: resolutions } = await ledger.sql.query<{ pending_id: string; kind: string }>('SELECT pending_id, kind FROM pending_resolutions WHERE pending_id = ANY($1::uuid[])', [[...holds.keys()]]);
    const resolutionOf = new Map(resolutions.map((r) => [r.pending_id, r.kind]));
    for (const [hold, p] of holds) {
      const kind = resolutionOf.get(hold);
      if (p.status === 'completed' && kind !== 'posted') forward.push(`payment ${p.id} is completed but its hold ${hold} is ${kind ?? 'not posted'}`);
      if (p.status !== 'completed' && kind === 'posted') forward.push(`payment ${p.id} is ${p.status} but its hold ${hold} was posted`);
    }
    const { rows: open } = await ledger.sql.query<{ pending_id: string }>('SELECT pending_id FROM open_holds WHERE pending_id = ANY($1::uuid[])', [[...holds.keys()]]);
    for (const o of open) {
      const p = holds.get(o.pending_id);
      if (p && p.status !== 'completed') forward.push(`payment ${p.id} is ${p.status} but its hold ${o.pending_id} is still open`);
    }
  }

  const backward: string[] = [];
  let posted = 0;
  let cursor = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await ledger.sql.query<{ id: string; reference: string }>(
      `SELECT t.id, t.reference FROM pending_resolutions r JOIN transfers t ON t.id = r.pending_id
        WHERE r.kind = 'posted' AND t.reference LIKE 'payment:%' AND t.id > $1 ORDER BY t.id LIMIT $2`,
      [cursor, VERIFY_PAGE_SIZE],
    );
    if (rows.length === 0) break;
    posted += rows.length;
    cursor = rows[rows.length - 1]?.id ?? cursor;
    const byPayment = new Map(rows.map((r) => [paymentIdOfReference(r.reference) ?? '', r.id]));
    const ids = [...byPayment.keys()].filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    const { rows: found } = await payments.sql.query<{ id: string; status: string }>('SELECT id, status FROM payments WHERE id = ANY($1::uuid[])', [ids]);
    const statusOf = new Map(found.map((p) => [p.id, p.status]));
    for (const [paymentId, transferId] of byPayment) {
      const status = statusOf.get(paymentId);
      if (status !== 'completed') backward.push(`posted transfer ${transferId} names payment ${paymentId}, which is ${status ?? 'unknown to payment-service'}`);
    }
  }
  return [
    { name: 'every settled payment matches its ledger hold (completed: posted; failed or cancelled: voided, expired or never placed)', checked, violations: forward },
    { name: 'every posted payment transfer has a completed payment', checked: posted, violations: backward },
  ];
}

/** Completed deposits against the settlement movements that made them, per currency and one by one. */
async function depositsAgainstLedger(payments: Database, ledger: Database): Promise<Check> {
  const violations: string[] = [];
  const { rows: totals } = await payments.sql.query<{ currency: string; total: string; n: string }>("SELECT currency, sum(amount)::text AS total, count(*)::text AS n FROM deposits WHERE status = 'completed' GROUP BY currency");
  const { rows: moved } = await ledger.sql.query<{ currency: string; total: string }>("SELECT currency, sum(amount)::text AS total FROM transfers WHERE reference LIKE 'deposit:%' GROUP BY currency");
  const movedBy = new Map(moved.map((m) => [m.currency.trim(), BigInt(m.total)]));
  let checked = 0;
  for (const t of totals) {
    checked += Number(t.n);
    const inLedger = movedBy.get(t.currency.trim()) ?? 0n;
    if (inLedger !== BigInt(t.total)) violations.push(`${t.currency}: completed deposits total ${t.total}, the ledger's deposit transfers ${inLedger}`);
    movedBy.delete(t.currency.trim());
  }
  for (const [currency, total] of movedBy) violations.push(`${currency}: the ledger moved ${total} in deposit transfers, payment-service completed none`);
  // One by one, so a missing transfer is named even when another deposit's amount hides it in the sum.
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await payments.sql.query<{ id: string }>("SELECT id FROM deposits WHERE status = 'completed' AND id > $1 ORDER BY id LIMIT $2", [after, VERIFY_PAGE_SIZE]);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]?.id ?? after;
    const transferIds = rows.map((r) => depositTransferId(r.id));
    const { rows: found } = await ledger.sql.query<{ reference: string }>('SELECT reference FROM transfers WHERE id = ANY($1::uuid[])', [transferIds]);
    const present = new Set(found.map((f) => depositIdOfReference(f.reference)));
    for (const r of rows) if (!present.has(r.id)) violations.push(`deposit ${r.id} is completed but has no ledger transfer`);
  }
  return { name: 'deposits match the settlement movements', checked, violations };
}

/** Sagas still moving after the bound: neither terminal nor parked for an operator. */
async function stuckSagas(payments: Database, bounds: Bounds): Promise<Check> {
  const { rows } = await payments.sql.query<{ id: string; step: string; created_at: Date }>(
    "SELECT id, step, created_at FROM payments WHERE status = 'pending' AND step <> 'needs_attention' AND created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2",
    [bounds.saga, VERIFY_PAGE_SIZE],
  );
  const { rows: n } = await payments.sql.query<{ n: string }>('SELECT count(*)::text AS n FROM payments');
  return { name: `every saga terminal or parked within ${bounds.saga} s`, checked: Number(n[0]?.n ?? 0), violations: rows.map((r) => `payment ${r.id} is still at ${r.step}, started ${new Date(r.created_at).toISOString()}`) };
}

/** Each service's outbox: nothing waiting longer than the bound. */
async function drainedOutbox(db: Database, name: string, bounds: Bounds): Promise<Check> {
  const { rows } = await db.sql.query<{ n: string; oldest: Date | null; stale: string }>(
    'SELECT count(*)::text AS n, min(occurred_at) AS oldest, count(*) FILTER (WHERE occurred_at < now() - make_interval(secs => $1))::text AS stale FROM outbox WHERE published_at IS NULL',
    [bounds.outbox],
  );
  const r = rows[0];
  const stale = Number(r?.stale ?? 0);
  return {
    name: `${name}'s outbox drained within ${bounds.outbox} s`,
    checked: Number(r?.n ?? 0),
    violations: stale > 0 ? [`${stale} event(s) unpublished for more than ${bounds.outbox} s (oldest from ${r?.oldest ? new Date(r.oldest).toISOString() : '?'})`] : [],
  };
}

/** Runs `fn` on a service's database, or reports the check as skipped when bank-cli was not told where it is. */
async function onDatabases(ctx: OperatorContext, services: readonly GrpcServiceDef[], names: readonly string[], fn: (...dbs: Database[]) => Promise<Check[]>): Promise<Check[]> {
  const urls: string[] = [];
  for (const s of services) {
    try {
      urls.push(ctx.databaseUrl(s));
    } catch (e) {
      if (!(e instanceof StackError)) throw e;
      return names.map((name) => ({ name, checked: 0, violations: [], skipped: e.message }));
    }
  }
  const open = async (i: number, dbs: Database[]): Promise<Check[]> => {
    const s = services[i];
    if (s === undefined) return fn(...dbs);
    return ctx.withDatabase(s, (db) => open(i + 1, [...dbs, db]));
  };
  return open(0, []);
}

export async function verifyBank(ctx: OperatorContext, bounds: Bounds): Promise<{ checks: Check[]; problems: number }> {
  const checks: Check[] = [await ledgerInvariants(ctx)];
  checks.push(...(await onDatabases(ctx, [LEDGER], ['holds'], async (ledger) => [await staleHolds(ledger, bounds)])));
  checks.push(
    ...(await onDatabases(ctx, [PAYMENTS, LEDGER], ['payments against the ledger', 'posted payment transfers', 'deposits'], async (payments, ledger) => [
      ...(await paymentsAgainstLedger(payments, ledger)),
      await depositsAgainstLedger(payments, ledger),
    ])),
  );
  checks.push(...(await onDatabases(ctx, [PAYMENTS], ['sagas'], async (payments) => [await stuckSagas(payments, bounds)])));
  for (const s of GRPC_SERVICES) checks.push(...(await onDatabases(ctx, [s], [`${s.name}'s outbox`], async (db) => [await drainedOutbox(db, s.name, bounds)])));
  return { checks, problems: checks.reduce((n, c) => n + c.violations.length, 0) };
}

function render(checks: readonly Check[], problems: number): string {
  const lines: string[] = [];
  for (const c of checks) {
    const mark = c.skipped !== undefined ? 'SKIP' : c.violations.length === 0 ? 'ok  ' : 'FAIL';
    lines.push(`${mark} ${c.name}${c.skipped !== undefined ? ` (${c.skipped})` : ` (${c.checked} checked)`}`);
    for (const v of c.violations.slice(0, MAX_VIOLATIONS_SHOWN)) lines.push(`     VIOLATION ${v}`);
    if (c.violations.length > MAX_VIOLATIONS_SHOWN) lines.push(`     ... and ${c.violations.length - MAX_VIOLATIONS_SHOWN} more`);
  }
  lines.push(problems === 0 ? 'the bank is consistent' : `${problems} violation(s)`);
  return lines.join('\n');
}

/** `bank-cli verify`: the cross-service audit. */
export function registerVerify(program: Command): void {
  const command = program
    .command('verify')
    .description('audit the bank across services: ledger invariants, payments and deposits against the ledger, stale holds, stuck sagas, undrained outboxes; exit 1 on any violation')
    .option('--hold-bound-s <s>', 'a hold open this long past its timeout is a violation', String(DEFAULT_BOUNDS_S.hold))
    .option('--outbox-bound-s <s>', 'an event unpublished this long is a violation', String(DEFAULT_BOUNDS_S.outbox))
    .option('--saga-bound-s <s>', 'a saga neither terminal nor parked this long after it began is a violation', String(DEFAULT_BOUNDS_S.saga))
    .addHelpText('after', '\nExamples:\n  bank-cli verify\n  bank-cli verify --json | jq .problems\n  LEDGER_DATABASE_URL=... PAYMENT_DATABASE_URL=... LEDGER_GRPC_ADDR=ledger:50053 bank-cli verify');
  command.action(
    operatorAction(command, async (ctx, opts: { holdBoundS: string; outboxBoundS: string; sagaBoundS: string }) => {
      const bound = (name: string, raw: string) => (raw === '0' ? 0 : positiveInt(name, raw, MAX_BOUND_S));
      const bounds = { hold: bound('--hold-bound-s', opts.holdBoundS), outbox: bound('--outbox-bound-s', opts.outboxBoundS), saga: bound('--saga-bound-s', opts.sagaBoundS) };
      const { checks, problems } = await verifyBank(ctx, bounds);
      return { human: render(checks, problems), problems, checks };
    }),
  );
}
