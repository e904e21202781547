import { DomainError, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, assert, fieldError, isCurrency, isOperator, isUuid, newId, OPERATOR_TOOL_ACTOR_ID, requireActor, requireUser, type Caller, type Clock, type Result } from '@bank/kernel';
import { close, freeze, openAccount, unfreeze, type AccountChange, type BankAccount, type TransitionError } from './account';
import type { AccountPage, AccountStore, LedgerBalances } from './ports';
import { applyProfileUpdate, newProfile, profileUpdateProblems, type Profile, type ProfileUpdate } from './profile';

export const MAX_OPEN_KEY_LENGTH = 255;
/** A transition that lost a race to a concurrent one is re-read and re-decided this often. */
export const MAX_TRANSITION_ATTEMPTS = 5;


/** An account the caller may not see answers exactly as one that does not exist. */
const notFound = () => new DomainError('NOT_FOUND', 'no such account');

/** The account an earlier opening with the same key made; the key used for another currency is refused, not replayed. */
function replayOf(existing: BankAccount, currency: string): OpenedAccount {
  if (existing.currency !== currency) throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key opened an account in another currency');
  return { account: existing, replayed: true };
}

/** An opening's answer: the account, and whether an earlier request with the same key made it. */
export interface OpenedAccount {
  readonly account: BankAccount;
  readonly replayed: boolean;
}

/** Accounts and profiles: opening, reading, the lifecycle, and ownership. */
export class Accounts {
  constructor(
    private readonly store: AccountStore,
    private readonly ledger: LedgerBalances,
    private readonly clock: Clock,
  ) {}

  /**
   * A customer opens an account of their own; an operator's tool (bank-cli, no user behind it)
   * opens one for the customer it names.
   */
  async open(caller: Caller, currency: string, openKey: string, traceparent = '', forOwnerId = ''): Promise<OpenedAccount> {
    const ownerId = caller.userId === undefined && isOperator(caller) ? forOwnerId.toLowerCase() : requireUser(caller);
    if (!isUuid(ownerId) || ownerId === OPERATOR_TOOL_ACTOR_ID) throw fieldError('VALIDATION_FAILED', 'ownerId', 'must name the customer (a UUID)');
    if (!isCurrency(currency)) throw fieldError('VALIDATION_FAILED', 'currency', 'must be a supported ISO 4217 code');
    if (openKey.length > MAX_OPEN_KEY_LENGTH) throw fieldError('VALIDATION_FAILED', 'idempotencyKey', `at most ${MAX_OPEN_KEY_LENGTH} characters`);
    if (openKey !== '') {
      const existing = await this.store.findByOpenKey(ownerId, openKey);
      if (existing) return replayOf(existing, currency);
    }
    const change = openAccount(newId(this.clock.now().getTime()), ownerId, currency, this.clock.now());
    if (await this.store.save(change, { expectedVersion: null, openKey: openKey || undefined, traceparent })) return { account: change.account, replayed: false };
    // A concurrent retry with the same key won: answer with its account.
    const winner = await this.store.findByOpenKey(ownerId, openKey);
    assert(winner, 'an account insert lost a race without a winner');
    return replayOf(winner, currency);
  }

  async get(caller: Caller, id: string): Promise<BankAccount> {
    requireActor(caller);
    if (!isUuid(id)) throw fieldError('VALIDATION_FAILED', 'accountId', 'must be a UUID');
    const account = await this.store.get(id);
    if (!account || (account.ownerId !== caller.userId && !isOperator(caller))) throw notFound();
    return account;
  }

  async list(caller: Caller, ownerId: string, limit: number, cursor: string): Promise<AccountPage> {
    const me = requireActor(caller);
    const owner = ownerId === '' ? me : ownerId;
    // Listing somebody else's accounts is an operator's business; to others they do not exist.
    if (owner !== me && !isOperator(caller)) return { accounts: [], nextCursor: '' };
    if (!isUuid(owner)) throw fieldError('VALIDATION_FAILED', 'ownerId', 'must be a UUID');
    const size = limit === 0 ? LIST_DEFAULT_LIMIT : limit;
    if (!Number.isInteger(size) || size < 1 || size > LIST_MAX_LIMIT) throw fieldError('VALIDATION_FAILED', 'limit', `must be 1 to ${LIST_MAX_LIMIT}`);
    // The cursor is the last account id of the previous page.
    if (cursor !== '' && !isUuid(cursor)) throw fieldError('VALIDATION_FAILED', 'cursor', 'is not a cursor this list handed out');
    return this.store.listByOwner(owner, size, cursor.toLowerCase());
  }

  freeze(caller: Caller, id: string, reason: string, traceparent = ''): Promise<BankAccount> {
    if (!isOperator(caller)) return Promise.reject(notFound());
    return this.transition(caller, id, traceparent, async (a) => freeze(a, reason));
  }

  unfreeze(caller: Caller, id: string, traceparent = ''): Promise<BankAccount> {
    if (!isOperator(caller)) return Promise.reject(notFound());
    return this.transition(caller, id, traceparent, async (a) => unfreeze(a));
  }

  close(caller: Caller, id: string, traceparent = ''): Promise<BankAccount> {
    return this.transition(caller, id, traceparent, async (a) => {
      const balance = await this.ledger.balanceOf(a.id);
      // Without a ledger account nothing was ever booked; an unknown balance is not zero otherwise.
      return close(a, balance ?? { posted: 0n, pending: 0n, incoming: 0n });
    });
  }

  private async transition(caller: Caller, id: string, traceparent: string, decide: (a: BankAccount) => Promise<Result<AccountChange, TransitionError>>): Promise<BankAccount> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(caller, id);
      const result = await decide(current);
      if (!result.ok) throw result.code === 'VALIDATION_FAILED' ? fieldError('VALIDATION_FAILED', 'reason', result.message) : new DomainError(result.code, result.message);
      if (await this.store.save(result.value, { expectedVersion: current.version, traceparent })) return result.value.account;
      if (attempt >= MAX_TRANSITION_ATTEMPTS) throw new Error(`account ${id} kept changing under a transition`);
    }
  }

  /** From user.registered: every user gets a profile once, whatever redeliveries happen. */
  async createProfile(userId: string, email: string, fullName: string): Promise<void> {
    await this.store.createProfile(newProfile(userId, email, fullName, this.clock.now()));
  }

  async profile(caller: Caller, userId: string): Promise<Profile> {
    const me = requireActor(caller);
    const id = userId === '' ? me : userId;
    const profile = id === me || isOperator(caller) ? await this.store.getProfile(id) : undefined;
    if (!profile) throw new DomainError('NOT_FOUND', 'no such profile');
    return profile;
  }

  /** Owners change their name and phone; nothing else of a profile is theirs to write. */
  async updateProfile(caller: Caller, update: ProfileUpdate): Promise<Profile> {
    const me = requireUser(caller);
    const problems = profileUpdateProblems(update);
    if (problems.length > 0) throw new DomainError('VALIDATION_FAILED', 'invalid profile update', { fields: problems });
    const current = await this.store.getProfile(me);
    if (!current) throw new DomainError('NOT_FOUND', 'no such profile');
    const updated = applyProfileUpdate(current, update);
    await this.store.updateProfile(updated);
    return updated;
  }
}
