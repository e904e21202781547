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
import { appendToOutbox, parseTimeIdCursor, sqlClient, timeIdCursor, type EntityManager, type NewEvent, type SqlClient, type Persistence } from '@bank/platform';
import { DepositSchema, IdempotencySchema, PaymentSchema, type DepositRow, type IdempotencyRow, type PaymentRow } from './entities';

/** The channel a terminal payment is announced on (pg_notify at commit): waiters in every replica wake. */
export const PAYMENT_SETTLED_CHANNEL = 'payment_settled';

/** Thrown inside a transaction to roll it back when the daily total would pass its limit. */
class LimitExceeded extends Error {}

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
    deadlineAt: r.deadlineAt,
    holdExpiresAt: r.holdExpiresAt,
    cancelRequested: r.cancelRequested,
    createdAt: r.createdAt,
    completedAt: r.completedAt,
    version: r.version,
  };
}

/** The columns a saga transition changes. */
function transitionOf(p: Payment): Partial<PaymentRow> {
  return {
    status: p.status,
    failureCode: p.failureCode,
    step: p.step,
    stepTimes: { ...p.stepTimes } as Record<string, string>,
    attempts: p.attempts,
    deadlineAt: p.deadlineAt,
    holdExpiresAt: p.holdExpiresAt,
    cancelRequested: p.cancelRequested,
    completedAt: p.completedAt,
  };
}

function toRecord(r: IdempotencyRow): IdempotencyRecord {
  return { ...r, scope: r.scope as IdempotencyScope };
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
 * Payments on PostgreSQL through MikroORM: an EntityManager fork per unit of work, entity inserts
 * and finds, optimistic saves by version. The raw client of the same transaction writes what the
 * ORM has no words for: the outbox rows, pg_notify, and the daily total's conditional increment.
 */
export class PostgresPaymentStore implements PaymentStore {
  constructor(private readonly db: Persistence) {}

  private em(): EntityManager {
    return this.db.em();
  }

  async createPayment(p: Payment, record: IdempotencyRecord): Promise<Created> {
    return this.createWithKey(record, async (em, client) => {
      em.create(PaymentSchema, { ...p, stepTimes: { ...p.stepTimes } as Record<string, string>, version: 1 });
      await em.flush();
      await appendToOutbox(client, [{ type: 'payment.requested', aggregateId: p.id, payload: { paymentId: p.id } }]);
    });
  }

  /**
   * Inserts the key's record with what `write` adds, in one transaction. Concurrent requests with
   * one key queue on its primary key; the losers find the winner's record once it committed.
   */
  private async createWithKey(record: IdempotencyRecord, write: (em: EntityManager, client: SqlClient) => Promise<void>): Promise<Created> {
    try {
      await this.db.transaction(async (_c, em) => {
        em.create(IdempotencySchema, { ...record });
        await em.flush();
        await write(em, sqlClient(em));
      });
      return { created: true };
    } catch (e) {
      if (!(e instanceof UniqueConstraintViolationException)) throw e;
      const existing = await this.getIdempotency(record.userId, record.scope, record.key);
      if (!existing) throw e;
      return { created: false, existing };
    }
  }

  async getPayment(id: string): Promise<Payment | undefined> {
    const row = await this.em().findOne(PaymentSchema, { id });
    return row ? toPayment(row) : undefined;
  }

  async savePayment(before: Payment, after: Payment, dailyLimit: bigint): Promise<SaveOutcome> {
    try {
      return await this.db.transaction(async (_c, em) => {
        const updated = await em.nativeUpdate(PaymentSchema, { id: before.id, version: before.version }, { ...transitionOf(after), version: before.version + 1 });
        if (updated === 0) return 'conflict' as const;
        const client = sqlClient(em);
        const change = spendChange(before, after);
        if (change !== 0n) await this.changeDailyTotal(client, after, change, dailyLimit);
        const event = settlementEvent(before, after);
        if (event) {
          await appendToOutbox(client, [settledEvent(event, after)]);
          await client.query('SELECT pg_notify($1, $2)', [PAYMENT_SETTLED_CHANNEL, after.id]);
        }
        return 'saved' as const;
      });
    } catch (e) {
      if (e instanceof LimitExceeded) return 'limit_exceeded';
      throw e;
    }
  }

  /**
   * A conditional increment: the reservation and the limit check are one statement, so two
   * payments checked at once cannot both pass a limit only one fits under. A release never
   * takes the total below zero.
   */
  private async changeDailyTotal(client: SqlClient, p: Payment, change: bigint, limit: bigint): Promise<void> {
    if (change > limit) throw new LimitExceeded();
    // One statement: the first payment of the day inserts the row; a later one adds to it only
    // while the total stays within the limit (no row returned otherwise). A release (change < 0)
    // never takes the total below zero.
    const { rowCount } = await client.query(
      `INSERT INTO daily_spend AS s (owner_id, currency, day, total) VALUES ($1, $2, $3, GREATEST($4::bigint, 0))
       ON CONFLICT (owner_id, currency, day) DO UPDATE SET total = GREATEST(s.total + $4::bigint, 0)
       WHERE $4::bigint <= 0 OR s.total + $4::bigint <= $5::bigint
       RETURNING total`,
      [p.initiatorId, p.currency, spendDay(p), change.toString(), limit.toString()],
    );
    if (rowCount === 0) throw new LimitExceeded();
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
    const row = await this.em().findOne(IdempotencySchema, { userId, scope, key });
    return row ? toRecord(row) : undefined;
  }

  async completeIdempotency(userId: string, scope: IdempotencyScope, key: string, status: number, body: unknown): Promise<void> {
    // The first answer recorded stays: a repeat of the key gets the same one every time.
    await this.em().nativeUpdate(IdempotencySchema, { userId, scope, key, responseStatus: null }, { responseStatus: status, responseBody: body });
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
