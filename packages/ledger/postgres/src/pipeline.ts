import { BatchRefused, type BatchChanges, type BatchState, type Footprint, type LedgerAccount } from '@bank/ledger-core';
import type { Persistence, SqlClient } from '@bank/platform';
import { batchWrite, newVersion } from './batch-write';
import { ACCOUNT_COLUMNS_VERSIONED, RESOLUTION_COLUMNS, TRANSFER_COLUMNS, jsonColumns, toAccount, toResolution, toTransfer, type Row } from './rows';

/** Attempts of a batch in the pipeline (the first, then replays from a fresh read) before it locks its accounts. */
export const MAX_PIPELINED_ATTEMPTS = 3;
/** Accounts whose latest state a process remembers; the least recently written are forgotten first. */
export const MAX_CACHED_ACCOUNTS = 100_000;
/** A locking batch that lost a race (same transfer id, same hold) to a concurrent one is replayed this often. */
export const MAX_BATCH_CONFLICT_RETRIES = 8;
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

/** Turns a step's outcome into "it has ended": what the next in a chain of ordered steps waits for. */
const settle = (): void => undefined;

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

/**
 * The ledger's write path: batches decided on what this process remembers of their accounts and
 * written as single self-committing statements, one after another, while the next is decided;
 * a batch that keeps losing falls back to locking its accounts. Raw SQL on purpose: a batch of
 * thousands of transfers is one statement of data-modifying CTEs over arrays bound through
 * unnest, which an ORM unit of work would turn into thousands of statements; hot statements are
 * named, so each connection prepares them once.
 */
export class BatchPipeline {
  private readonly cache = new AccountCache(MAX_CACHED_ACCOUNTS);
  /** Settles when the last batch to take its turn has been decided and sent (a locking batch: committed). */
  private turn: Promise<void> = Promise.resolve();
  /** Settles when the last pipelined write, and every one before it, has finished. */
  private lastWrite: Promise<void> = Promise.resolve();

  /** `pipelinedAttempts`: attempts before a batch locks instead; 0 always locks (tests run the contract both ways). */
  constructor(
    private readonly db: Persistence,
    private readonly pipelinedAttempts: number = MAX_PIPELINED_ATTEMPTS,
    /** The writer's lease token each write is fenced with (undefined: unfenced). */
    private readonly fence: () => bigint | undefined = () => undefined,
  ) {}

  /** Forgets what this process remembers of an account that changed outside the pipeline. */
  forget(id: string): void {
    this.cache.delete(id);
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
        return attempt < this.pipelinedAttempts ? await this.pipelined(footprint, decide, attempt > 0) : await this.lockedInTurn(footprint, decide);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (isContentError(code)) throw new BatchRefused(`the database refused the batch: ${(e as Error).message}`, { cause: e });
        if (!CONFLICTS.has(code ?? '') || attempt >= this.pipelinedAttempts + MAX_BATCH_CONFLICT_RETRIES) throw e;
      }
    }
  }

  /** `fresh`: read the database even when every account is remembered (a replay). */
  private async pipelined<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }, fresh: boolean): Promise<T> {
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
      const statement = batchWrite(changes, versions, version, this.fence());
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
    return value;
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
  private lockedInTurn<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<T> {
    const run = this.turn.then(async () => {
      await this.lastWrite;
      return this.locked(footprint, decide);
    });
    this.turn = run.then(settle, settle);
    return run;
  }

  /** The last resort of a batch that keeps losing: lock its accounts in id order, read, decide, write. */
  private async locked<T>(footprint: Footprint, decide: (state: BatchState) => { changes: BatchChanges; value: T }): Promise<T> {
    const { value, changes } = await this.db.transaction(async (c) => {
      const { state, versions } = await this.lockAndLoad(c, footprint);
      const decided = decide(state);
      await c.query(batchWrite(decided.changes, versions, newVersion(), this.fence()));
      return decided;
    });
    // The database is now ahead of anything this process remembers about these accounts.
    for (const a of changes.accounts) this.cache.delete(a.id);
    return value;
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

}
