import { DomainError, MAX_MINOR_UNITS, assert, deterministicId, fieldError, isCurrency, isUuid, type Clock, type Currency } from '@bank/kernel';
import { expireHolds } from './apply';
import { TransferBatcher, type BatcherOptions } from './batcher';
import {
  AccountFlags,
  MAX_DESCRIPTION_LENGTH,
  MAX_REFERENCE_LENGTH,
  MAX_TIMEOUT_SECONDS,
  MAX_TRANSFERS_PER_REQUEST,
  TransferFlags,
  validAccountFlags,
  type AccountKind,
  type AccountState,
  type CreateAccountResult,
  type LedgerAccount,
  type NewAccount,
  type Resolution,
  type Transfer,
  type TransferRequest,
  type TransferResult,
} from './model';
import type { Balances, InvariantReport, LedgerStore, StatementLine } from './ports';

export const STATEMENT_DEFAULT_PAGE = 20;
export const STATEMENT_MAX_PAGE = 100;
/** The largest sequence a statement line can have: sequences are Postgres bigints. */
const MAX_SEQUENCE = 2n ** 63n - 1n;
export const LOOKUP_MAX_IDS = 8_000;
export const CREATE_ACCOUNTS_MAX = 8_000;
/** Holds expired per sweep transaction. */
export const EXPIRY_BATCH_SIZE = 1_000;

const SYSTEM_ACCOUNT_NAMESPACE = 'bank.ledger.system-account';
export const SYSTEM_KINDS = ['settlement', 'fees', 'suspense'] as const;

/** System accounts have ids derived from currency and kind, so every service can name them. */
export function systemAccountId(currency: Currency, kind: (typeof SYSTEM_KINDS)[number]): string {
  return deterministicId(SYSTEM_ACCOUNT_NAMESPACE, `${currency}:${kind}`);
}

export type TransferStatus = 'posted' | 'pending' | 'voided' | 'expired';

export interface TransferView {
  readonly transfer: Transfer;
  readonly status: TransferStatus;
  /** For a hold that was captured: the captured amount. */
  readonly postedAmount: bigint;
}

const validationError = (field: string, message: string): DomainError => fieldError('VALIDATION_FAILED', field, message);

/**
 * Ids are compared, cached and looked up in PostgreSQL's text form of a uuid, which is lower
 * case; an id a client sends in upper case is the same id, so it is lowered on the way in.
 */
const canonicalId = (id: string): string => (isUuid(id) ? id.toLowerCase() : id);

function canonicalTransfer(r: TransferRequest): TransferRequest {
  return { ...r, id: canonicalId(r.id), debitAccountId: canonicalId(r.debitAccountId), creditAccountId: canonicalId(r.creditAccountId), pendingId: canonicalId(r.pendingId) };
}

/** The ledger's use cases. Everything that changes balances goes through the batcher. */
export class Ledger {
  private readonly batcher: TransferBatcher;

  constructor(
    private readonly store: LedgerStore,
    private readonly clock: Clock,
    batching: BatcherOptions,
  ) {
    this.batcher = new TransferBatcher(store, clock, batching);
  }

  async createTransfers(requests: readonly TransferRequest[]): Promise<TransferResult[]> {
    if (requests.length === 0 || requests.length > MAX_TRANSFERS_PER_REQUEST) {
      throw new DomainError('TOO_MANY_ITEMS', `a call carries 1 to ${MAX_TRANSFERS_PER_REQUEST} transfers; got ${requests.length}`);
    }
    requests.forEach((r, i) => {
      if (r.reference.length > MAX_REFERENCE_LENGTH) throw validationError(`transfers[${i}].reference`, `at most ${MAX_REFERENCE_LENGTH} characters`);
      if (r.description.length > MAX_DESCRIPTION_LENGTH) throw validationError(`transfers[${i}].description`, `at most ${MAX_DESCRIPTION_LENGTH} characters`);
      // PostgreSQL text cannot hold NUL; refused here, the call fails alone instead of its whole batch.
      if (r.reference.includes('\u0000')) throw validationError(`transfers[${i}].reference`, 'must not contain NUL');
      if (r.description.includes('\u0000')) throw validationError(`transfers[${i}].description`, 'must not contain NUL');
      if (r.timeoutSeconds < 0 || !Number.isInteger(r.timeoutSeconds)) throw validationError(`transfers[${i}].timeoutSeconds`, 'a whole number of seconds');
      if (r.timeoutSeconds > MAX_TIMEOUT_SECONDS) throw validationError(`transfers[${i}].timeoutSeconds`, `at most ${MAX_TIMEOUT_SECONDS}`);
    });
    return this.batcher.submit(requests.map(canonicalTransfer));
  }

  async createAccounts(accounts: readonly NewAccount[]): Promise<CreateAccountResult[]> {
    if (accounts.length === 0 || accounts.length > CREATE_ACCOUNTS_MAX) {
      throw new DomainError('TOO_MANY_ITEMS', `a call carries 1 to ${CREATE_ACCOUNTS_MAX} accounts; got ${accounts.length}`);
    }
    const results: (CreateAccountResult | undefined)[] = accounts.map((a) => {
      if (!isUuid(a.id)) return 'invalid_id';
      if (!isCurrency(a.currency)) return 'invalid_currency';
      if (!validAccountFlags(a.flags)) return 'flags_are_mutually_exclusive';
      if (a.overdraftLimit < 0n || a.overdraftLimit > MAX_MINOR_UNITS) return 'invalid_overdraft_limit';
      return undefined;
    });
    const valid = accounts.filter((_, i) => results[i] === undefined).map((a) => ({ ...a, id: canonicalId(a.id) }));
    const stored = valid.length > 0 ? await this.store.createAccounts(valid, this.clock.now()) : [];
    let k = 0;
    return results.map((r) => r ?? (stored[k++] as CreateAccountResult));
  }

  /** Opens a customer's ledger account: it may never go below zero unless given an overdraft. */
  async openCustomerAccount(id: string, currency: string, ownerId: string): Promise<CreateAccountResult> {
    const [result] = await this.createAccounts([{ id, currency, kind: 'customer', flags: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, overdraftLimit: 0n, ownerId }]);
    assert(result, 'one result per account');
    return result;
  }

  /** Creates the settlement, fees and suspense accounts of each currency (idempotent). */
  async ensureSystemAccounts(currencies: readonly Currency[]): Promise<void> {
    const accounts: NewAccount[] = currencies.flatMap((currency) =>
      SYSTEM_KINDS.map((kind): NewAccount => ({ id: systemAccountId(currency, kind), currency, kind: kind as AccountKind, flags: AccountFlags.NONE, overdraftLimit: 0n, ownerId: null })),
    );
    const results = await this.createAccounts(accounts);
    const bad = results.find((r) => r !== 'ok' && r !== 'exists');
    assert(bad === undefined, `system account creation failed: ${bad}`);
  }

  async setAccountState(id: string, state: AccountState, version: bigint): Promise<boolean> {
    return this.store.setAccountState(id, state, version);
  }

  async lookupAccounts(ids: readonly string[]): Promise<LedgerAccount[]> {
    if (ids.length > LOOKUP_MAX_IDS) throw new DomainError('TOO_MANY_ITEMS', `at most ${LOOKUP_MAX_IDS} ids per lookup`);
    const valid = ids.filter(isUuid).map(canonicalId);
    return valid.length > 0 ? this.store.lookupAccounts(valid) : [];
  }

  async getTransfer(id: string): Promise<TransferView> {
    if (!isUuid(id)) throw validationError('id', 'must be a UUID');
    const found = await this.store.getTransfer(canonicalId(id));
    if (!found) throw new DomainError('TRANSFER_NOT_FOUND', `no transfer ${id}`);
    return { transfer: found.transfer, ...statusOf(found.transfer, found.resolution) };
  }

  async statement(id: string, limit: number, cursor: string): Promise<{ lines: StatementLine[]; nextCursor: string }> {
    if (!isUuid(id)) throw validationError('accountId', 'must be a UUID');
    const accountId = canonicalId(id);
    const pageSize = limit === 0 ? STATEMENT_DEFAULT_PAGE : limit;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > STATEMENT_MAX_PAGE) throw validationError('limit', `must be 1 to ${STATEMENT_MAX_PAGE}`);
    let before: bigint | undefined;
    if (cursor !== '') {
      // A sequence is a Postgres bigint: a cursor beyond it was never handed out.
      if (!/^\d{1,19}$/.test(cursor) || BigInt(cursor) > MAX_SEQUENCE) throw validationError('cursor', 'is not a cursor this list handed out');
      before = BigInt(cursor);
    }
    const [account] = await this.store.lookupAccounts([accountId]);
    if (!account) throw new DomainError('ACCOUNT_NOT_FOUND', `no account ${accountId}`);
    // One extra line tells whether another page exists without a count query.
    const lines = await this.store.statement(accountId, pageSize + 1, before);
    const page = lines.slice(0, pageSize);
    const last = page[page.length - 1];
    return { lines: page, nextCursor: lines.length > pageSize && last ? last.sequence.toString() : '' };
  }

  async balanceAt(accountId: string, at: Date): Promise<Balances> {
    if (!isUuid(accountId)) throw validationError('accountId', 'must be a UUID');
    const balances = await this.store.balanceAt(canonicalId(accountId), at);
    if (!balances) throw new DomainError('ACCOUNT_NOT_FOUND', `no account ${accountId}`);
    return balances;
  }

  /** Voids holds whose timeout passed; returns how many it expired. */
  async expireDueHolds(limit: number = EXPIRY_BATCH_SIZE): Promise<number> {
    const now = this.clock.now();
    const due = await this.store.dueHolds(now, limit);
    if (due.length === 0) return 0;
    return this.store.transact({ transferIds: due, pendingIds: due, accountIds: [] }, (state) => {
      const changes = expireHolds(state, due, now);
      return { changes, value: changes.resolutions.length };
    });
  }

  /**
   * Voids due holds batch after batch until a batch comes back short, `maxBatches` have run, or
   * `keepGoing` says stop (a shutting-down sweeper); returns how many it expired.
   */
  async expireAllDueHolds(maxBatches: number, keepGoing: () => boolean = () => true): Promise<number> {
    let expired = 0;
    for (let batch = 0, n = EXPIRY_BATCH_SIZE; n === EXPIRY_BATCH_SIZE && batch < maxBatches && keepGoing(); batch++) {
      n = await this.expireDueHolds(EXPIRY_BATCH_SIZE);
      expired += n;
    }
    return expired;
  }

  verify(): Promise<InvariantReport> {
    return this.store.verify();
  }
}

/** A hold's status comes from its resolution; every other transfer took effect when recorded. */
function statusOf(t: Transfer, resolution: Resolution | undefined): { status: TransferStatus; postedAmount: bigint } {
  if ((t.flags & TransferFlags.PENDING) === 0) {
    const voids = (t.flags & TransferFlags.VOID_PENDING) !== 0;
    return { status: voids ? 'voided' : 'posted', postedAmount: voids ? 0n : t.amount };
  }
  if (!resolution) return { status: 'pending', postedAmount: 0n };
  if (resolution.kind === 'posted') return { status: 'posted', postedAmount: resolution.amount };
  return { status: resolution.kind, postedAmount: 0n };
}
