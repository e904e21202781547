import { randomBytes } from 'node:crypto';
import type { Currency } from '@bank/kernel';
import { BatchRefused, TransferFlags, postedBalance, type AccountState, type Balances, type BatchChanges, type BatchState, type CreateAccountResult, type Footprint, type InvariantReport, type InvariantViolation, type LedgerAccount, type LedgerEvent, type LedgerStore, type LineStatus, type NewAccount, type Resolution, type StatementLine, type Transfer } from '@bank/ledger-core';
import { BATCH_ROW_TYPE, outboxBatchRow, type Database, type NewEvent, type SqlClient } from '@bank/platform';
import type { QueryConfig } from 'pg';

/** Attempts of a batch in the pipeline (the first, then replays from a fresh read) before it locks its accounts. */
export const MAX_PIPELINED_ATTEMPTS = 3;
/** Accounts whose latest state a process remembers; the least recently written are forgotten first. */
export const MAX_CACHED_ACCOUNTS = 100_000;
/** A locking batch that lost a race (same transfer id, same hold) to a concurrent one is replayed this often. */
export const MAX_BATCH_CONFLICT_RETRIES = 8;
/** Violations of one kind reported by verify; the first ones tell the story. */
export const MAX_VIOLATIONS_REPORTED = 100;
const UNIQUE_VIOLATION = '23505';
/** Raised by `ledger_expect_updated` when an account changed between a batch's read and its write. */
const SERIALIZATION_FAILURE = '40001';
/**
 * Writes of two instances (or an operator's transaction) can still lock shared accounts in
 * opposite orders; within one process a locking batch never runs beside a pipelined write.
 */
const DEADLOCK_DETECTED = '40P01';
const CONFLICTS = new Set([UNIQUE_VIOLATION, SERIALIZATION_FAILURE, DEADLOCK_DETECTED]);
/** SQLSTATE classes of a statement refused for the values it carries: data exception, integrity constraint violation. */
const CONTENT_ERROR_CLASSES = ['22', '23'];

/** A write refused for what it writes (not a conflict with another writer, not an outage). */
function isContentError(code: string | undefined): boolean {
  return code !== undefined && !CONFLICTS.has(code) && CONTENT_ERROR_CLASSES.includes(code.slice(0, 2));
}

type Row = Record<string, unknown>;

/** Turns a step's outcome into "it has ended": what the next in a chain of ordered steps waits for. */
const settle = (): void => undefined;

/**
 * A fresh row version: random rather than counted, so that no two writes, in this process or any
 * other, give an account the same version, and a batch decided on a write that failed can never
 * find "its" version in the database.
 */
function newVersion(): string {
  return (randomBytes(8).readBigUInt64BE() >> 2n).toString();
}

interface CachedAccount {
  readonly account: LedgerAccount;
  readonly version: string;
}

/** Thrown before writing a pipelined batch whose refusals must be confirmed against the database. */
class RecheckRefusals extends Error {
  readonly code = SERIALIZATION_FAILURE;

  constructor() {
    super('refusals decided on remembered accounts are confirmed against the database');
  }
}

/** The accounts this process wrote last, bounded; Map order doubles as recency order. */
class AccountCache {
  private readonly entries = new Map<string, CachedAccount>();

  constructor(private readonly max: number) {}

  get(id: string): CachedAccount | undefined {
    return this.entries.get(id);
  }

  set(id: string, value: CachedAccount): void {
    this.entries.delete(id);
    this.entries.set(id, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }
}

const big = (v: unknown): bigint => BigInt(v as string);
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string));
const str = (v: bigint): string => v.toString();

/*
 * Array parameters are sent as Postgres array literals built here. pg's generic conversion
 * inspects and escapes every element, which was a third of a large batch's write time; uuids,
 * integers and ISO timestamps need no escaping, and text elements are quoted in one pass. They
 * are still bound parameters: a malformed element is refused by Postgres, never run as SQL.
 */
const arrayLiteral = (elements: readonly string[]): string => `{${elements.join(',')}}`;
const uuids = (values: readonly (string | null)[]): string => arrayLiteral(values.map((v) => v ?? 'NULL'));
const numbers = (values: readonly (bigint | number)[]): string => arrayLiteral(values.map(String));
/**
 * A batch's rows mostly share one timestamp (the batch's clock reading) and come in runs of it,
 * so a timestamp is formatted once per run of equal values rather than once per row.
 */
function times(values: readonly (Date | null)[]): string {
  let lastMs = NaN;
  let lastText = '';
  return arrayLiteral(
    values.map((v) => {
      if (v === null) return 'NULL';
      const ms = v.getTime();
      if (ms !== lastMs) {
        lastMs = ms;
        lastText = v.toISOString();
      }
      return lastText;
    }),
  );
}
const texts = (values: readonly string[]): string => arrayLiteral(values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`));

function toAccount(r: Row): LedgerAccount {
  return {
    id: r.id as string,
    currency: (r.currency as string) as Currency,
    kind: r.kind as LedgerAccount['kind'],
    state: r.state as AccountState,
    flags: Number(r.flags),
    overdraftLimit: big(r.overdraft_limit),
    debitsPosted: big(r.debits_posted),
    creditsPosted: big(r.credits_posted),
    debitsPending: big(r.debits_pending),
    creditsPending: big(r.credits_pending),
    ownerId: (r.owner_id as string | null) ?? null,
    createdAt: date(r.created_at),
  };
}

function toTransfer(r: Row): Transfer {
  return {
    id: r.id as string,
    debitAccountId: r.debit_account_id as string,
    creditAccountId: r.credit_account_id as string,
    amount: big(r.amount),
    currency: (r.currency as string) as Currency,
    flags: Number(r.flags),
    pendingId: (r.pending_id as string | null) ?? null,
    timeoutSeconds: Number(r.timeout_seconds),
    expiresAt: r.expires_at === null ? null : date(r.expires_at),
    reference: r.reference as string,
    description: r.description as string,
    createdAt: date(r.created_at),
  };
}

function toResolution(r: Row): Resolution {
  return { pendingId: r.pending_id as string, kind: r.kind as Resolution['kind'], transferId: (r.transfer_id as string | null) ?? null, amount: big(r.amount), resolvedAt: date(r.resolved_at) };
}

const ACCOUNT_COLUMNS = 'id, currency, kind, state, flags, overdraft_limit, debits_posted, credits_posted, debits_pending, credits_pending, owner_id, created_at';
const ACCOUNT_COLUMNS_VERSIONED = `${ACCOUNT_COLUMNS}, version`;
const RESOLUTION_COLUMNS = 'pending_id, kind, transfer_id, amount, resolved_at';
/** Bigints travel as JSON strings: a JSON number would lose precision past 2^53 in JavaScript. */
const BIGINT_COLUMNS = new Set(['overdraft_limit', 'debits_posted', 'credits_posted', 'debits_pending', 'credits_pending', 'version', 'amount']);
/** `json_build_object` arguments for a column list, keyed like the rows the mappers read. */
function jsonColumns(columns: string): string {
  return columns
    .split(', ')
    .map((c) => `'${c}', ${c}${BIGINT_COLUMNS.has(c) ? '::text' : ''}`)
    .join(', ');
}
const TRANSFER_COLUMNS = 'id, debit_account_id, credit_account_id, amount, currency, flags, pending_id, timeout_seconds, expires_at, reference, description, created_at';

function toEvent(e: LedgerEvent): NewEvent {
  const t = e.transfer;
  return {
    type: e.type,
    aggregateId: t.pendingId ?? t.id,
    occurredAt: t.createdAt,
    payload: { transferId: t.id, debitAccountId: t.debitAccountId, creditAccountId: t.creditAccountId, amount: t.amount, currency: t.currency, pendingId: t.pendingId ?? '', reference: t.reference },
  };
}

/**
 * The statement that writes a batch: data-modifying CTEs insert the transfers, entries, holds,
 * resolutions and the outbox row and update the balances, so a batch costs one round trip
 * whatever its size. All CTEs see one snapshot, so a hold created and resolved in the same batch
 * is settled here rather than inserted into and deleted from open_holds. The balance update
 * applies only to accounts that still carry the version the batch was decided on, and the final
 * check turns a shortfall into a serialization failure that undoes the whole statement.
 */
function batchWrite(ch: BatchChanges, versions: ReadonlyMap<string, string>, version: string): QueryConfig {
  const t = ch.transfers;
  const e = ch.entries;
  const a = ch.accounts;
  const r = ch.resolutions;
  const resolved = new Set(r.map((x) => x.pendingId));
  const created = new Set(t.map((x) => x.id));
  const opened = t.filter((x) => (x.flags & TransferFlags.PENDING) !== 0 && !resolved.has(x.id));
  const closed = r.filter((x) => !created.has(x.pendingId)).map((x) => x.pendingId);
  const outbox = ch.events.length > 0 ? outboxBatchRow(ch.events.map(toEvent)) : undefined;
  return {
    name: 'ledger_write_batch',
    text: `WITH
      ins_transfers AS (
        INSERT INTO transfers (${TRANSFER_COLUMNS})
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::char(3)[], $6::int[], $7::uuid[], $8::int[], $9::timestamptz[], $10::text[], $11::text[], $12::timestamptz[])),
      ins_holds AS (
        INSERT INTO open_holds (pending_id, expires_at) SELECT * FROM unnest($13::uuid[], $14::timestamptz[])),
      ins_resolutions AS (
        INSERT INTO pending_resolutions (pending_id, kind, transfer_id, amount, resolved_at)
        SELECT * FROM unnest($15::uuid[], $16::text[], $17::uuid[], $18::bigint[], $19::timestamptz[])),
      del_holds AS (
        DELETE FROM open_holds WHERE pending_id = ANY($20::uuid[])),
      ins_entries AS (
        INSERT INTO entries (account_id, transfer_id, line_transfer_id, kind, side, posted_delta, pending_delta,
                             debits_posted_after, credits_posted_after, debits_pending_after, credits_pending_after, created_at)
        SELECT a, t, l, k, s, pd, qd, dpa, cpa, dqa, cqa, ca
          FROM unnest($21::uuid[], $22::uuid[], $23::uuid[], $24::text[], $25::text[], $26::bigint[], $27::bigint[],
                      $28::bigint[], $29::bigint[], $30::bigint[], $31::bigint[], $32::timestamptz[]) WITH ORDINALITY AS u(a, t, l, k, s, pd, qd, dpa, cpa, dqa, cqa, ca, n)
         ORDER BY n),
      upd_accounts AS (
        UPDATE ledger_accounts AS acc
           SET debits_posted = u.dp, credits_posted = u.cp, debits_pending = u.dq, credits_pending = u.cq, version = $43::bigint
          FROM unnest($33::uuid[], $34::bigint[], $35::bigint[], $36::bigint[], $37::bigint[], $38::bigint[]) AS u(id, dp, cp, dq, cq, v)
         WHERE acc.id = u.id AND acc.version = u.v
        RETURNING 1),
      ins_outbox AS (
        INSERT INTO outbox (id, type, aggregate_id, occurred_at, traceparent, payload)
        SELECT $39::uuid, '${BATCH_ROW_TYPE}', '', $40::timestamptz, '', $41::json WHERE $39::uuid IS NOT NULL)
    SELECT ledger_expect_updated($42::int, (SELECT count(*) FROM upd_accounts))`,
    values: [
      uuids(t.map((x) => x.id)),
      uuids(t.map((x) => x.debitAccountId)),
      uuids(t.map((x) => x.creditAccountId)),
      numbers(t.map((x) => x.amount)),
      texts(t.map((x) => x.currency)),
      numbers(t.map((x) => x.flags)),
      uuids(t.map((x) => x.pendingId)),
      numbers(t.map((x) => x.timeoutSeconds)),
      times(t.map((x) => x.expiresAt)),
      texts(t.map((x) => x.reference)),
      texts(t.map((x) => x.description)),
      times(t.map((x) => x.createdAt)),
      uuids(opened.map((x) => x.id)),
      times(opened.map((x) => x.expiresAt)),
      uuids(r.map((x) => x.pendingId)),
      texts(r.map((x) => x.kind)),
      uuids(r.map((x) => x.transferId)),
      numbers(r.map((x) => x.amount)),
      times(r.map((x) => x.resolvedAt)),
      uuids(closed),
      uuids(e.map((x) => x.accountId)),
      uuids(e.map((x) => x.transferId)),
      uuids(e.map((x) => x.lineTransferId)),
      texts(e.map((x) => x.kind)),
      texts(e.map((x) => x.side)),
      numbers(e.map((x) => x.postedDelta)),
      numbers(e.map((x) => x.pendingDelta)),
      numbers(e.map((x) => x.debitsPostedAfter)),
      numbers(e.map((x) => x.creditsPostedAfter)),
      numbers(e.map((x) => x.debitsPendingAfter)),
      numbers(e.map((x) => x.creditsPendingAfter)),
      times(e.map((x) => x.createdAt)),
      uuids(a.map((x) => x.id)),
      numbers(a.map((x) => x.debitsPosted)),
      numbers(a.map((x) => x.creditsPosted)),
      numbers(a.map((x) => x.debitsPending)),
      numbers(a.map((x) => x.creditsPending)),
      arrayLiteral(a.map((x) => versions.get(x.id) as string)),
      outbox?.id ?? null,
      outbox?.occurredAt ?? null,
      outbox?.payload ?? null,
      a.length,
      version,
    ],
  };
}

/**
 * The ledger on PostgreSQL. The write path is raw SQL on the pg client that MikroORM's pool lends
 * out, on purpose: a batch of thousands of transfers is written with one statement of
 * data-modifying CTEs over arrays bound through unnest, which an ORM unit of work would turn into
 * thousands of statements. Hot statements are named (prepared once per connection). Reads that
 * serve one account use the same client for the same reason: one query.
 */
export class PostgresLedgerStore implements LedgerStore {
  /** Called after a batch with events committed, so the outbox relay publishes without waiting. */
  onEventsCommitted: (() => void) | undefined;

  /** Pipelined attempts before a batch locks instead; 0 always locks (tests run the contract both ways). */
  private readonly pipelinedAttempts: number;
  private readonly cache = new AccountCache(MAX_CACHED_ACCOUNTS);
  /** Settles when the last batch to take its turn has been decided and sent (a locking batch: committed). */
  private turn: Promise<void> = Promise.resolve();
  /** Settles when the last pipelined write, and every one before it, has finished. */
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    opts: { pipelinedAttempts?: number } = {},
  ) {
    this.pipelinedAttempts = opts.pipelinedAttempts ?? MAX_PIPELINED_ATTEMPTS;
  }

  /**
   * A batch is first decided on this process's latest view of its accounts and written at once,
   * without waiting for the batches before it to commit: a batch is one self-committing
   * statement, so while Postgres writes one, the next is already decided and on its way, and a
   * batch whose accounts are all known needs no read at all. Each write succeeds only if every
   * account it changes still carries the version the batch was decided on (a batch decided on top
   * of one still in flight expects that one's version). When that check or a primary key fails
   * (the batch before it failed, another instance or an account event changed an account, the
   * transfer id already exists), the batch is decided again in its turn from a fresh read, taken
   * once every write before it has finished; one that keeps losing locks its accounts in id order,
   * which always makes progress.
   */
  async transact<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { value, events } = attempt < this.pipelinedAttempts ? await this.pipelined(footprint, decide, attempt > 0) : await this.lockedInTurn(footprint, decide);
        if (events > 0) this.onEventsCommitted?.();
        return value;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (isContentError(code)) throw new BatchRefused(`the database refused the batch: ${(e as Error).message}`, { cause: e });
        if (!CONFLICTS.has(code ?? '') || attempt >= this.pipelinedAttempts + MAX_BATCH_CONFLICT_RETRIES) throw e;
      }
    }
  }

  /** `fresh`: read the database even when every account is remembered (a replay). */
  private async pipelined<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }, fresh: boolean): Promise<{ value: T; events: number }> {
    // The turn is taken before anything is awaited, so batches are decided and sent in the order
    // they arrive here: a replay goes behind the batches already decided.
    const sent = this.turn.then(async () => {
      // Each statement takes a pooled connection of its own: the write is self-committing, and a
      // read follows the writes before it only after they have finished (batchState).
      const client = this.db.sql;
      const { state, versions, remembered } = await this.batchState(client, footprint, fresh);
      const { changes, value } = decide(state);
      // A refusal (insufficient funds, a frozen account) decided on remembered accounts could be
      // wrong: another instance may have credited or unfrozen them since, and a refusal writes
      // nothing for the version check to catch. Such a batch is decided again from the database.
      if (remembered && changes.refusals > 0) throw new RecheckRefusals();
      const version = newVersion();
      const statement = batchWrite(changes, versions, version);
      // One pipelined write at a time: two statements updating the same accounts at once could
      // lock them in opposite orders and deadlock. Deciding the next batch still overlaps
      // with this one's write.
      const written = this.lastWrite.then(() => client.query(statement));
      this.lastWrite = written.then(settle, settle);
      for (const a of changes.accounts) this.cache.set(a.id, { account: { ...a }, version });
      return { written, changes, value };
    });
    this.turn = sent.then(settle, settle);
    const { written, changes, value } = await sent;
    try {
      await written;
    } catch (e) {
      // What this batch assumed is wrong; batches decided on top of it fail their own check.
      for (const a of changes.accounts) this.cache.delete(a.id);
      throw e;
    }
    return { value, events: changes.events.length };
  }

  /** What a pipelined batch decides on: the remembered accounts when they suffice, else a read. */
  private async batchState(c: SqlClient, footprint: Footprint, fresh: boolean): Promise<{ state: BatchState; versions: Map<string, string>; remembered: boolean }> {
    // Nothing to read when no hold is named and every account is remembered: a transfer id that
    // already exists fails the write on its primary key, whose replay reads it and answers `exists`.
    const known = fresh || footprint.pendingIds.length > 0 ? undefined : footprint.accountIds.map((id) => this.cache.get(id));
    if (known?.every((k) => k !== undefined)) {
      const accounts = new Map<string, LedgerAccount>();
      const versions = new Map<string, string>();
      for (const k of known as CachedAccount[]) {
        accounts.set(k.account.id, { ...k.account });
        versions.set(k.account.id, k.version);
      }
      return { state: { accounts, transfers: new Map(), resolutions: new Map() }, versions, remembered: true };
    }
    // Every write decided before this batch finishes first, so that what is read (balances,
    // holds and their resolutions alike) is at least as new as what this process remembers.
    await this.lastWrite;
    const read = await this.read(c, footprint);
    for (const [id, account] of read.state.accounts) this.cache.set(id, { account: { ...account }, version: read.versions.get(id) as string });
    return { ...read, remembered: false };
  }

  /**
   * A locking batch runs alone in the pipeline's order: it waits for every pipelined write of this
   * process to finish, and no later batch is decided until it has committed. A pipelined write
   * locks its accounts in the order it lists them, not in id order, so the two side by side could
   * deadlock, and Postgres would break that only after deadlock_timeout, a second in which the
   * pipeline stalls. Batches lock only after repeated conflicts, so the pipeline seldom waits.
   */
  private lockedInTurn<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<{ value: T; events: number }> {
    const run = this.turn.then(async () => {
      await this.lastWrite;
      return this.locked(footprint, decide);
    });
    this.turn = run.then(settle, settle);
    return run;
  }

  /** The last resort of a batch that keeps losing: lock its accounts in id order, read, decide, write. */
  private async locked<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<{ value: T; events: number }> {
    const { value, changes } = await this.db.transaction(async (c) => {
      const { state, versions } = await this.lockAndLoad(c, footprint);
      const decided = decide(state);
      await c.query(batchWrite(decided.changes, versions, newVersion()));
      return decided;
    });
    // The database is now ahead of anything this process remembers about these accounts.
    for (const a of changes.accounts) this.cache.delete(a.id);
    return { value, events: changes.events.length };
  }

  /** The pipeline's read: accounts (with the holds' accounts), transfers and resolutions in one statement and one snapshot. */
  private async read(c: SqlClient, footprint: Footprint): Promise<{ state: BatchState; versions: Map<string, string> }> {
    const { rows } = await c.query({
      name: 'ledger_read_batch',
      text: `WITH wanted AS (
               SELECT unnest($1::uuid[]) AS id
               UNION SELECT unnest(ARRAY[debit_account_id, credit_account_id]) FROM transfers WHERE id = ANY($2::uuid[]))
             SELECT
               (SELECT json_agg(json_build_object(${jsonColumns(ACCOUNT_COLUMNS_VERSIONED)})) FROM ledger_accounts WHERE id IN (SELECT id FROM wanted)) AS accounts,
               (SELECT json_agg(json_build_object(${jsonColumns(TRANSFER_COLUMNS)})) FROM transfers WHERE id = ANY($3::uuid[])) AS transfers,
               (SELECT json_agg(json_build_object(${jsonColumns(RESOLUTION_COLUMNS)})) FROM pending_resolutions WHERE pending_id = ANY($2::uuid[])) AS resolutions`,
      values: [footprint.accountIds, footprint.pendingIds, [...new Set([...footprint.transferIds, ...footprint.pendingIds])]],
    });
    const r = rows[0] as { accounts: Row[] | null; transfers: Row[] | null; resolutions: Row[] | null };
    const versions = new Map<string, string>();
    const accounts = new Map<string, LedgerAccount>();
    for (const a of r.accounts ?? []) {
      accounts.set(a.id as string, toAccount(a));
      versions.set(a.id as string, a.version as string);
    }
    return {
      state: {
        accounts,
        transfers: new Map((r.transfers ?? []).map((t) => [t.id as string, toTransfer(t)])),
        resolutions: new Map((r.resolutions ?? []).map((x) => [x.pending_id as string, toResolution(x)])),
      },
      versions,
    };
  }

  /** The fallback read, inside a transaction: locks the accounts in id order, then reads as the pipeline does. */
  private async lockAndLoad(c: SqlClient, footprint: Footprint): Promise<{ state: BatchState; versions: Map<string, string> }> {
    const accountIds = new Set(footprint.accountIds);
    if (footprint.pendingIds.length > 0) {
      // Holds are immutable: reading them before locking tells which accounts to lock.
      const { rows } = await c.query({ name: 'ledger_hold_accounts', text: 'SELECT debit_account_id, credit_account_id FROM transfers WHERE id = ANY($1::uuid[])', values: [footprint.pendingIds] });
      for (const r of rows) {
        accountIds.add(r.debit_account_id as string);
        accountIds.add(r.credit_account_id as string);
      }
    }
    // Locking in id order: two batches that share accounts wait for each other, never deadlock.
    await c.query({ name: 'ledger_lock_accounts', text: 'SELECT 1 FROM ledger_accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', values: [[...accountIds].sort()] });
    // Read after the locks, so balances and resolutions committed by a batch we waited for are seen.
    return this.read(c, footprint);
  }


  async dueHolds(now: Date, limit: number): Promise<string[]> {
    const { rows } = await this.db.sql.query('SELECT pending_id FROM open_holds WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2', [now, limit]);
    return rows.map((r) => r.pending_id as string);
  }

  createAccounts(accounts: readonly NewAccount[], now: Date): Promise<CreateAccountResult[]> {
    return this.db.transaction((c) => this.createAccountsIn(c, accounts, now));
  }

  /** Creates accounts inside the caller's transaction (an event consumer's, with its inbox row). */
  private async createAccountsIn(c: SqlClient, accounts: readonly NewAccount[], now: Date): Promise<CreateAccountResult[]> {
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

  setAccountState(id: string, state: AccountState, version: bigint): Promise<boolean> {
    return this.db.transaction((c) => this.setAccountStateIn(c, id, state, version));
  }

  private async setAccountStateIn(c: SqlClient, id: string, state: AccountState, version: bigint): Promise<boolean> {
    this.cache.delete(id);
    const res = await c.query(
      // `version` moves too: a batch that read the old state must not commit on top of the new one.
      `UPDATE ledger_accounts SET state = CASE WHEN state_version < $3 THEN $2 ELSE state END, state_version = greatest(state_version, $3), version = $4
        WHERE id = $1`,
      [id, state, str(version), newVersion()],
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
        createdAt: date(r.created_at),
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

  /**
   * Checks the invariants with set-based queries over the whole ledger, in one REPEATABLE READ
   * snapshot so that concurrent batches cannot make a consistent ledger look inconsistent.
   */
  async verify(): Promise<InvariantReport> {
    return this.db.transaction(async (c) => {
      const violations: InvariantViolation[] = [];
      const add = (invariant: InvariantViolation['invariant'], rows: Row[], describe: (r: Row) => string) => {
        for (const r of rows) violations.push({ invariant, detail: describe(r) });
      };
      const limit = MAX_VIOLATIONS_REPORTED;
      add(
        'debits_equal_credits',
        (await c.query(
          `SELECT currency, sum(debits_posted) - sum(credits_posted) AS posted_gap, sum(debits_pending) - sum(credits_pending) AS pending_gap
             FROM ledger_accounts GROUP BY currency HAVING sum(debits_posted) <> sum(credits_posted) OR sum(debits_pending) <> sum(credits_pending)`,
        )).rows,
        (r) => `${r.currency as string}: debits − credits = ${r.posted_gap as string} posted, ${r.pending_gap as string} pending`,
      );
      add(
        'balance_equals_entries',
        (await c.query(
          `WITH sums AS (
             SELECT account_id,
                    coalesce(sum(posted_delta) FILTER (WHERE side = 'debit'), 0) AS dp, coalesce(sum(posted_delta) FILTER (WHERE side = 'credit'), 0) AS cp,
                    coalesce(sum(pending_delta) FILTER (WHERE side = 'debit'), 0) AS dq, coalesce(sum(pending_delta) FILTER (WHERE side = 'credit'), 0) AS cq
               FROM entries GROUP BY account_id),
           last AS (
             SELECT DISTINCT ON (account_id) account_id, debits_posted_after, credits_posted_after, debits_pending_after, credits_pending_after
               FROM entries ORDER BY account_id, sequence DESC)
           SELECT a.id FROM ledger_accounts a LEFT JOIN sums s ON s.account_id = a.id LEFT JOIN last l ON l.account_id = a.id
            WHERE a.debits_posted <> coalesce(s.dp, 0) OR a.credits_posted <> coalesce(s.cp, 0)
               OR a.debits_pending <> coalesce(s.dq, 0) OR a.credits_pending <> coalesce(s.cq, 0)
               OR (l.account_id IS NOT NULL AND (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
                   <> (l.debits_posted_after, l.credits_posted_after, l.debits_pending_after, l.credits_pending_after))
            LIMIT $1`,
          [limit],
        )).rows,
        (r) => `account ${r.id as string}: balances differ from its entries`,
      );
      add(
        'flags_respected',
        (await c.query(
          `SELECT id FROM ledger_accounts
            WHERE (flags & 1 <> 0 AND debits_posted::numeric + debits_pending > credits_posted::numeric + overdraft_limit)
               OR (flags & 2 <> 0 AND credits_posted::numeric + credits_pending > debits_posted) LIMIT $1`,
          [limit],
        )).rows,
        (r) => `account ${r.id as string} breaks its flags`,
      );
      add(
        'single_resolution',
        (await c.query(
          `SELECT pending_id, count(*) AS n FROM transfers WHERE pending_id IS NOT NULL GROUP BY pending_id HAVING count(*) > 1 LIMIT $1`,
          [limit],
        )).rows,
        (r) => `hold ${r.pending_id as string} has ${r.n as string} resolving transfers`,
      );
      add(
        'holds_match_pending',
        (await c.query(
          `WITH open AS (
             SELECT t.* FROM transfers t WHERE t.flags & 2 <> 0 AND NOT EXISTS (SELECT 1 FROM pending_resolutions r WHERE r.pending_id = t.id)),
           held AS (
             SELECT account_id, sum(dq) AS dq, sum(cq) AS cq FROM (
               SELECT debit_account_id AS account_id, amount AS dq, 0 AS cq FROM open
               UNION ALL SELECT credit_account_id, 0, amount FROM open) x GROUP BY account_id)
           SELECT a.id FROM ledger_accounts a LEFT JOIN held h ON h.account_id = a.id
            WHERE a.debits_pending <> coalesce(h.dq, 0) OR a.credits_pending <> coalesce(h.cq, 0)
           UNION ALL
           SELECT o.id FROM open o LEFT JOIN open_holds h ON h.pending_id = o.id WHERE h.pending_id IS NULL
           UNION ALL
           SELECT h.pending_id FROM open_holds h JOIN pending_resolutions r ON r.pending_id = h.pending_id
           LIMIT $1`,
          [limit],
        )).rows,
        (r) => `${r.id as string}: open holds do not match pending balances`,
      );
      const counts = await c.query('SELECT (SELECT count(*) FROM ledger_accounts) AS accounts, (SELECT count(*) FROM transfers) AS transfers');
      return { violations, accountsChecked: Number(counts.rows[0]?.accounts), transfersChecked: Number(counts.rows[0]?.transfers) };
    }, 'REPEATABLE READ');
  }
}
