import { UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import type { Currency } from '@bank/kernel';
import {
  TERMINAL_STEPS,
  settlementEvent,
  spendChange,
  spendDay,
  type Created,
  type Deposit,
  type IdempotencyRecord,
  type IdempotencyScope,
  type Payment,
  type PaymentPage,
  type PaymentStatus,
  type PaymentStore,
  type SagaStep,
  type SaveOutcome,
} from '@bank/payments-core';
import { appendToOutbox, outboxInsert, parseTimeIdCursor, sqlClient, sqlTimestamp, timeIdCursor, type EntityManager, type NewEvent, type Persistence } from '@bank/platform';
import { DepositSchema, IdempotencySchema, PaymentSchema, type DepositRow, type IdempotencyRow, type PaymentRow } from './entities';

/** The channel a terminal payment is announced on (pg_notify at commit): waiters in every replica wake. */
export const PAYMENT_SETTLED_CHANNEL = 'payment_settled';

/** PostgreSQL's unique_violation, as a raw statement reports it (the ORM wraps its own). */
const UNIQUE_VIOLATION = '23505';


const timestampOrNull = (v: Date | string | null): Date | null => (v === null ? null : sqlTimestamp(v));

function toPayment(r: PaymentRow): Payment {
  return {
    id: r.id,
    initiatorId: r.initiatorId,
    sourceAccountId: r.sourceAccountId,
    destinationAccountId: r.destinationAccountId,
    destinationOwnerId: r.destinationOwnerId,
    amount: BigInt(r.amount),
    currency: r.currency as Currency,
    description: r.description,
    status: r.status as PaymentStatus,
    failureCode: r.failureCode,
    step: r.step as SagaStep,
    stepTimes: r.stepTimes,
    attempts: r.attempts,
    deadlineAt: sqlTimestamp(r.deadlineAt),
    holdExpiresAt: timestampOrNull(r.holdExpiresAt),
    cancelRequested: r.cancelRequested,
    createdAt: sqlTimestamp(r.createdAt),
    completedAt: timestampOrNull(r.completedAt),
    version: r.version,
  };
}

/** The payments table's columns under PaymentRow's names, for raw reads. */
const PAYMENT_COLUMNS = `id, initiator_id AS "initiatorId", source_account_id AS "sourceAccountId", destination_account_id AS "destinationAccountId",
  destination_owner_id AS "destinationOwnerId", amount, currency, description, status, failure_code AS "failureCode", step, step_times AS "stepTimes",
  attempts, deadline_at AS "deadlineAt", hold_expires_at AS "holdExpiresAt", cancel_requested AS "cancelRequested", created_at AS "createdAt",
  completed_at AS "completedAt", version`;

function toRecord(r: IdempotencyRow): IdempotencyRecord {
  return { ...r, scope: r.scope as IdempotencyScope, lockedUntil: sqlTimestamp(r.lockedUntil), createdAt: sqlTimestamp(r.createdAt) };
}

function toDeposit(r: DepositRow): Deposit {
  return { ...r, amount: BigInt(r.amount), currency: r.currency as Currency, status: r.status as Deposit['status'] };
}

function settledEvent(type: 'payment.completed' | 'payment.failed' | 'payment.cancelled', p: Payment): NewEvent {
  return {
    type,
    aggregateId: p.id,
    payload: {
      paymentId: p.id,
      sourceAccountId: p.sourceAccountId,
      destinationAccountId: p.destinationAccountId,
      amount: p.amount,
      currency: p.currency,
      status: p.status,
      failureCode: p.failureCode ?? '',
      sourceOwnerId: p.initiatorId,
      destinationOwnerId: p.destinationOwnerId,
      description: p.description,
    },
  };
}

/**
 * Payments on PostgreSQL. What every payment does (create it, read it and its key, save each saga
 * transition by version, with its outbox event, pg_notify and the daily total's conditional
 * increment) is raw SQL on MikroORM's connection, one statement each; deposits, lists and the
 * sweeper's reads go through the ORM's EntityManager, a fork per unit of work.
 */
export class PostgresPaymentStore implements PaymentStore {
  constructor(private readonly db: Persistence) {}

  private em(): EntityManager {
    return this.db.em();
  }

  /**
   * Raw SQL, one statement: the key's record, the payment and its payment.requested event commit
   * in one round trip instead of five (begin, three inserts, commit), on the path every payment
   * takes. A key already taken fails the whole statement on its primary key, as the ORM's insert would.
   */
  async createPayment(p: Payment, record: IdempotencyRecord): Promise<Created> {
    const recordValues = [record.userId, record.scope, record.key, record.fingerprint, record.resourceId, record.responseStatus, record.responseBody === null ? null : JSON.stringify(record.responseBody), record.lockedUntil, record.createdAt];
    const paymentValues = [
      p.id, p.initiatorId, p.sourceAccountId, p.destinationAccountId, p.destinationOwnerId, p.amount.toString(), p.currency, p.description,
      p.status, p.failureCode, p.step, JSON.stringify(p.stepTimes), p.attempts, p.deadlineAt, p.holdExpiresAt, p.cancelRequested, p.createdAt, p.completedAt, 1,
    ];
    // The event's parameters follow the record's and the payment's.
    const events = outboxInsert([{ type: 'payment.requested', aggregateId: p.id, payload: { paymentId: p.id } }], recordValues.length + paymentValues.length + 1);
    try {
      await this.db.sql.query(
        `WITH record AS (
           INSERT INTO idempotency_records (user_id, scope, key, fingerprint, resource_id, response_status, response_body, locked_until, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)),
         payment AS (
           INSERT INTO payments (id, initiator_id, source_account_id, destination_account_id, destination_owner_id, amount, currency, description,
                                 status, failure_code, step, step_times, attempts, deadline_at, hold_expires_at, cancel_requested, created_at, completed_at, version)
           VALUES ($10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21::jsonb, $22, $23, $24, $25, $26, $27, $28)),
         events AS (${events.text})
         SELECT 1`,
        [...recordValues, ...paymentValues, ...events.values],
      );
      return { created: true };
    } catch (e) {
      return this.existingKey(record, e);
    }
  }

  /** After a failed insert: the key's record when the key was taken (a concurrent or earlier request), else the error. */
  private async existingKey(record: IdempotencyRecord, e: unknown): Promise<Created> {
    if (!(e instanceof UniqueConstraintViolationException) && (e as { code?: unknown }).code !== UNIQUE_VIOLATION) throw e;
    const existing = await this.getIdempotency(record.userId, record.scope, record.key);
    if (!existing) throw e;
    return { created: false, existing };
  }

  /**
   * Inserts the key's record with what `write` adds, in one transaction. Concurrent requests with
   * one key queue on its primary key; the losers find the winner's record once it committed.
   */
  private async createWithKey(record: IdempotencyRecord, write: (em: EntityManager) => Promise<void>): Promise<Created> {
    try {
      await this.db.transaction(async (_c, em) => {
        em.create(IdempotencySchema, { ...record });
        await em.flush();
        await write(em);
      });
      return { created: true };
    } catch (e) {
      return this.existingKey(record, e);
    }
  }

  // The reads every payment makes (its key, its saga's state) are raw SQL too: the ORM's
  // query building and hydration cost more CPU than the statement itself (npm run bench, profiled).
  async getPayment(id: string): Promise<Payment | undefined> {
    const { rows } = await this.db.sql.query<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1`, [id]);
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  /**
   * A transition as one statement (raw SQL, CTEs), committed in one round trip instead of the
   * four or five of a transaction: the payment's row is locked at `before.version` (none: a
   * conflict), the daily total changes if the transition reserves or releases (a reservation past
   * the limit changes nothing and saves nothing), the row is updated only if that went through,
   * and a terminal status brings its event and pg_notify. Holding the row lock from the first
   * clause is what makes the reservation and the update both-or-neither: no concurrent transition
   * can slip between them. The reservation is one conditional upsert, so two payments checked at
   * once cannot both pass a limit only one fits under; a release never takes the total below zero.
   */
  async savePayment(before: Payment, after: Payment, dailyLimit: bigint): Promise<SaveOutcome> {
    const change = spendChange(before, after);
    // A reservation larger than the whole limit can never fit; it is refused without asking (and
    // so without the version check: the saga saves the refusal next, which then checks it). The
    // statement's upsert could not refuse it on the day's first row, which it inserts.
    if (change > dailyLimit) return 'limit_exceeded';
    const event = settlementEvent(before, after);
    const values: unknown[] = [before.id, before.version];
    const param = (value: unknown) => `$${values.push(value)}`;
    let spend = '';
    if (change !== 0n) {
      const [owner, currency, day, delta, limit] = [after.initiatorId, after.currency, spendDay(after), change.toString(), dailyLimit.toString()].map(param);
      spend = `, spend AS (
          INSERT INTO daily_spend AS s (owner_id, currency, day, total)
          SELECT ${owner}, ${currency}, ${day}::date, GREATEST(${delta}::bigint, 0) FROM target
          ON CONFLICT (owner_id, currency, day) DO UPDATE SET total = GREATEST(s.total + ${delta}::bigint, 0)
          WHERE ${delta}::bigint <= 0 OR s.total + ${delta}::bigint <= ${limit}::bigint
          RETURNING total)`;
    }
    const saved = `, saved AS (
        UPDATE payments SET status = ${param(after.status)}, failure_code = ${param(after.failureCode)}, step = ${param(after.step)},
               step_times = ${param(JSON.stringify(after.stepTimes))}::jsonb, attempts = ${param(after.attempts)}, deadline_at = ${param(after.deadlineAt)},
               hold_expires_at = ${param(after.holdExpiresAt)}, cancel_requested = ${param(after.cancelRequested)}, completed_at = ${param(after.completedAt)},
               version = $2::int + 1
         WHERE id IN (SELECT id FROM target)${spend === '' ? '' : ' AND EXISTS (SELECT 1 FROM spend)'}
        RETURNING id)`;
    let settled = '';
    if (event) {
      const channel = param(PAYMENT_SETTLED_CHANNEL);
      const events = outboxInsert([settledEvent(event, after)], values.length + 1, 'EXISTS (SELECT 1 FROM saved)');
      values.push(...events.values);
      settled = `, events AS (${events.text}), notified AS (SELECT pg_notify(${channel}, id::text) FROM saved)`;
    }
    const { rows } = await this.db.sql.query<{ found: number; saved: number }>(
      `WITH target AS (SELECT id FROM payments WHERE id = $1 AND version = $2::int FOR UPDATE)${spend}${saved}${settled}
       SELECT (SELECT count(*) FROM target)::int AS found, (SELECT count(*) FROM saved)::int AS saved${event ? ', (SELECT count(*) FROM notified)::int AS notified' : ''}`,
      values,
    );
    if (rows[0]?.found !== 1) return 'conflict';
    return rows[0].saved === 1 ? 'saved' : 'limit_exceeded';
  }

  async listPayments(accountId: string, limit: number, cursor: string): Promise<PaymentPage> {
    // Pages go by (created_at, id), newest first.
    const after = cursor === '' ? undefined : parseTimeIdCursor(cursor);
    if (cursor !== '' && !after) return { payments: [], nextCursor: '' };
    const where: FilterQuery<PaymentRow> = {
      $and: [
        { $or: [{ sourceAccountId: accountId }, { destinationAccountId: accountId }] },
        ...(after ? [{ $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, id: { $lt: after.id } }] }] : []),
      ],
    };
    const rows = await this.em().find(PaymentSchema, where, { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], limit: limit + 1 });
    const payments = rows.slice(0, limit).map(toPayment);
    const last = payments[payments.length - 1];
    return { payments, nextCursor: rows.length > limit && last ? timeIdCursor(last.createdAt, last.id) : '' };
  }

  async duePayments(now: Date, limit: number): Promise<string[]> {
    const rows = await this.em().find(PaymentSchema, { deadlineAt: { $lte: now }, step: { $nin: [...TERMINAL_STEPS] } }, { orderBy: { deadlineAt: 'asc' }, limit, fields: ['id'] });
    return rows.map((r) => r.id);
  }

  async getIdempotency(userId: string, scope: IdempotencyScope, key: string): Promise<IdempotencyRecord | undefined> {
    const { rows } = await this.db.sql.query<IdempotencyRow>(
      `SELECT user_id AS "userId", scope, key, fingerprint, resource_id AS "resourceId", response_status AS "responseStatus", response_body AS "responseBody",
              locked_until AS "lockedUntil", created_at AS "createdAt"
         FROM idempotency_records WHERE user_id = $1 AND scope = $2 AND key = $3`,
      [userId, scope, key],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async completeIdempotency(userId: string, scope: IdempotencyScope, key: string, status: number, body: unknown): Promise<void> {
    // The first answer recorded stays: a repeat of the key gets the same one every time.
    await this.db.sql.query('UPDATE idempotency_records SET response_status = $4, response_body = $5::jsonb WHERE user_id = $1 AND scope = $2 AND key = $3 AND response_status IS NULL', [
      userId,
      scope,
      key,
      status,
      JSON.stringify(body),
    ]);
  }

  async purgeIdempotency(before: Date, limit: number): Promise<number> {
    // Bounded: a purge after a long pause deletes in rounds instead of one huge statement.
    const { rowCount } = await this.db.sql.query('DELETE FROM idempotency_records WHERE ctid IN (SELECT ctid FROM idempotency_records WHERE created_at < $1 LIMIT $2)', [before, limit]);
    return rowCount ?? 0;
  }

  async createDeposit(d: Deposit, record: IdempotencyRecord): Promise<Created> {
    return this.createWithKey(record, async (em) => {
      em.create(DepositSchema, { ...d });
      await em.flush();
    });
  }

  async getDeposit(id: string): Promise<Deposit | undefined> {
    const row = await this.em().findOne(DepositSchema, { id });
    return row ? toDeposit(row) : undefined;
  }

  async finishDeposit(d: Deposit, status: number, body: unknown): Promise<void> {
    await this.db.transaction(async (_c, em) => {
      // A pending deposit finishes once; a completion also overrides a refusal recorded by a
      // concurrent finisher, because the ledger decides: its transfer went through.
      const updated = await em.nativeUpdate(DepositSchema, d.status === 'completed' ? { id: d.id, status: { $ne: 'completed' } } : { id: d.id, status: 'pending' }, { status: d.status, failureCode: d.failureCode });
      if (updated === 0) return;
      await em.nativeUpdate(IdempotencySchema, { scope: 'deposit', resourceId: d.id }, { responseStatus: status, responseBody: body });
      if (d.status === 'completed') {
        await appendToOutbox(sqlClient(em), [
          { type: 'deposit.completed', aggregateId: d.accountId, payload: { depositId: d.id, accountId: d.accountId, ownerId: d.ownerId, amount: d.amount, currency: d.currency, reference: d.reference } },
        ]);
      }
    });
  }

  async pendingDeposits(before: Date, limit: number): Promise<string[]> {
    const rows = await this.em().find(DepositSchema, { status: 'pending', createdAt: { $lt: before } }, { orderBy: { createdAt: 'asc' }, limit, fields: ['id'] });
    return rows.map((r) => r.id);
  }
}
