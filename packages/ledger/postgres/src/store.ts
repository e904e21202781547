import type { AccountState, Balances, BatchChanges, BatchState, CreateAccountResult, Footprint, InvariantReport, LedgerAccount, LedgerStore, LineStatus, NewAccount, Resolution, StatementLine, Transfer } from '@bank/ledger-core';
import { LEDGER_NOT_ACTIVE, postedBalance } from '@bank/ledger-core';
import { DomainError } from '@bank/kernel';
import { sqlTimestamp, type Persistence, type SqlClient } from '@bank/platform';
import { newVersion } from './batch-write';
import { LEDGER_FENCED_SQLSTATE } from './migrations';
import { BatchPipeline } from './pipeline';
import { ACCOUNT_COLUMNS, RESOLUTION_COLUMNS, TRANSFER_COLUMNS, big, str, toAccount, toResolution, toTransfer } from './rows';
import { verifyLedger } from './verify';

/**
 * The ledger on PostgreSQL: the batch pipeline (pipeline.ts) writes transfers; accounts, reads,
 * statements and verify (verify.ts) are here. Raw SQL throughout, through MikroORM's connection:
 * the statements read and write the same arrays and columns as the batch write, and a statement
 * page or a point-in-time balance is one query.
 */
/** A write the fence refused is the caller's UNAVAILABLE: another process is the ledger's writer now. */
async function fenced<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (e) {
    if ((e as { code?: string }).code === LEDGER_FENCED_SQLSTATE) throw new DomainError(LEDGER_NOT_ACTIVE, 'this transaction-service no longer holds the ledger\'s writer lease; retry against the active one');
    throw e;
  }
}

export class PostgresLedgerStore implements LedgerStore {
  private readonly pipeline: BatchPipeline;
  /** The writer's lease token every write carries (transaction-service's lease); undefined: unfenced. */
  private readonly fence: () => bigint | undefined;

  constructor(
    private readonly db: Persistence,
    opts: { pipelinedAttempts?: number; fence?: () => bigint | undefined } = {},
  ) {
    this.fence = opts.fence ?? (() => undefined);
    this.pipeline = new BatchPipeline(db, opts.pipelinedAttempts, this.fence);
  }

  async transact<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<T> {
    return fenced(this.pipeline.transact(footprint, decide));
  }

  async dueHolds(now: Date, limit: number): Promise<string[]> {
    const { rows } = await this.db.sql.query('SELECT pending_id FROM open_holds WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2', [now, limit]);
    return rows.map((r) => r.pending_id as string);
  }

  /** In its own transaction, or in the caller's when the store is built on a transaction's scope (the account consumer's). */
  createAccounts(accounts: readonly NewAccount[], now: Date): Promise<CreateAccountResult[]> {
    return fenced(
      this.db.transaction(async (c) => {
        // Held until the transaction ends: a takeover waits for it, and a former holder is refused.
        await c.query('SELECT ledger_fence($1::bigint)', [this.fence()?.toString() ?? null]);
        return this.insertAccounts(c, accounts, now);
      }),
    );
  }

  private async insertAccounts(c: SqlClient, accounts: readonly NewAccount[], now: Date): Promise<CreateAccountResult[]> {
    const { rows: inserted } = await c.query(
      `INSERT INTO ledger_accounts (id, currency, kind, flags, overdraft_limit, owner_id, created_at)
       SELECT id, cur, kind, flags, od, owner, $7 FROM unnest($1::uuid[], $2::char(3)[], $3::text[], $4::int[], $5::bigint[], $6::uuid[]) AS u(id, cur, kind, flags, od, owner)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [accounts.map((a) => a.id), accounts.map((a) => a.currency), accounts.map((a) => a.kind), accounts.map((a) => a.flags), accounts.map((a) => str(a.overdraftLimit)), accounts.map((a) => a.ownerId), now],
    );
    const created = new Set(inserted.map((r) => r.id as string));
    const others = accounts.filter((a) => !created.has(a.id)).map((a) => a.id);
    const existing = new Map<string, LedgerAccount>();
    if (others.length > 0) {
      const { rows } = await c.query(`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY($1::uuid[])`, [others]);
      for (const r of rows) existing.set(r.id as string, toAccount(r));
    }
    return accounts.map((a): CreateAccountResult => {
      if (created.has(a.id)) return 'ok';
      const e = existing.get(a.id);
      const same = e && e.currency === a.currency && e.kind === a.kind && e.flags === a.flags && e.overdraftLimit === a.overdraftLimit && e.ownerId === a.ownerId;
      return same ? 'exists' : 'exists_with_different_fields';
    });
  }

  /** One statement: on its own, or in the caller's transaction when the store is built on its scope. */
  async setAccountState(id: string, state: AccountState, version: bigint): Promise<boolean> {
    this.pipeline.forget(id);
    const res = await fenced(
      this.db.sql.query(
        // `version` moves too: a batch that read the old state must not commit on top of the new one.
        // The fence is in the statement: it commits only while this process holds the lease.
        `UPDATE ledger_accounts SET state = CASE WHEN state_version < $3 THEN $2 ELSE state END, state_version = greatest(state_version, $3), version = $4
          WHERE id = $1 AND ledger_fence($5::bigint) = 0`,
        [id, state, str(version), newVersion(), this.fence()?.toString() ?? null],
      ),
    );
    return res.rowCount === 1;
  }

  async lookupAccounts(ids: readonly string[]): Promise<LedgerAccount[]> {
    const { rows } = await this.db.sql.query(`SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = ANY($1::uuid[])`, [ids]);
    const byId = new Map(rows.map((r) => [r.id as string, toAccount(r)]));
    return ids.flatMap((id) => (byId.has(id) ? [byId.get(id) as LedgerAccount] : []));
  }

  async getTransfer(id: string): Promise<{ transfer: Transfer; resolution: Resolution | undefined } | undefined> {
    const c = this.db.sql;
    const { rows } = await c.query(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = $1`, [id]);
    if (!rows[0]) return undefined;
    const res = await c.query(`SELECT ${RESOLUTION_COLUMNS} FROM pending_resolutions WHERE pending_id = $1`, [id]);
    return { transfer: toTransfer(rows[0]), resolution: res.rows[0] ? toResolution(res.rows[0]) : undefined };
  }

  async statement(accountId: string, limit: number, beforeSequence: bigint | undefined): Promise<StatementLine[]> {
    // A hold that has ended is hidden: its resolution's entry is the line, placed when it took effect.
    const { rows } = await this.db.sql.query(
      `SELECT e.sequence, e.line_transfer_id, e.side, e.kind, e.posted_delta, e.pending_delta,
              e.debits_posted_after, e.credits_posted_after, e.created_at,
              t.currency, t.reference, t.description
         FROM entries e JOIN transfers t ON t.id = e.line_transfer_id
        WHERE e.account_id = $1 AND ($2::bigint IS NULL OR e.sequence < $2)
          AND NOT (e.kind = 'pending' AND EXISTS (SELECT 1 FROM pending_resolutions r WHERE r.pending_id = e.transfer_id))
        ORDER BY e.sequence DESC LIMIT $3`,
      [accountId, beforeSequence === undefined ? null : str(beforeSequence), limit],
    );
    return rows.map((r): StatementLine => {
      const kind = r.kind as string;
      const status: LineStatus = kind === 'pending' ? 'pending' : kind === 'void_pending' || kind === 'expired' ? 'voided' : 'posted';
      const pending = big(r.pending_delta);
      return {
        transferId: r.line_transfer_id as string,
        side: r.side as 'debit' | 'credit',
        status,
        amount: status === 'posted' ? big(r.posted_delta) : pending < 0n ? -pending : pending,
        currency: r.currency as string,
        balanceAfter: postedBalance(big(r.debits_posted_after), big(r.credits_posted_after)),
        reference: r.reference as string,
        description: r.description as string,
        createdAt: sqlTimestamp(r.created_at),
        sequence: big(r.sequence),
      };
    });
  }

  async balanceAt(accountId: string, at: Date): Promise<Balances | undefined> {
    const c = this.db.sql;
    const exists = await c.query('SELECT 1 FROM ledger_accounts WHERE id = $1', [accountId]);
    if (exists.rowCount === 0) return undefined;
    const { rows } = await c.query(
      `SELECT debits_posted_after, credits_posted_after, debits_pending_after, credits_pending_after FROM entries
        WHERE account_id = $1 AND created_at <= $2 ORDER BY sequence DESC LIMIT 1`,
      [accountId, at],
    );
    const r = rows[0];
    if (!r) return { debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n };
    return { debitsPosted: big(r.debits_posted_after), creditsPosted: big(r.credits_posted_after), debitsPending: big(r.debits_pending_after), creditsPending: big(r.credits_pending_after) };
  }

  verify(): Promise<InvariantReport> {
    return verifyLedger(this.db);
  }
}
