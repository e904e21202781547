import type { AccountChange, BankAccount, LedgerBalance } from './account';
import type { Profile } from './profile';

export interface AccountPage {
  readonly accounts: BankAccount[];
  /** Empty on the last page. */
  readonly nextCursor: string;
}

/**
 * Accounts and profiles storage. `save` writes the change and its event together (the outbox),
 * and refuses a stale version so that two concurrent transitions cannot both apply.
 */
export interface AccountStore {
  get(id: string): Promise<BankAccount | undefined>;
  /** Finds the account a retried OpenAccount created, by its owner and idempotency key. */
  findByOpenKey(ownerId: string, key: string): Promise<BankAccount | undefined>;
  listByOwner(ownerId: string, limit: number, cursor: string): Promise<AccountPage>;
  /** Inserts (version 1) or updates from `expectedVersion`; false when the version moved on. */
  save(change: AccountChange, opts: { expectedVersion: number | null; openKey?: string; traceparent?: string }): Promise<boolean>;
  getProfile(id: string): Promise<Profile | undefined>;
  /** Creates a profile once; a second call for the same id changes nothing. */
  createProfile(profile: Profile): Promise<void>;
  updateProfile(profile: Profile): Promise<void>;
}

/** What the ledger knows of an account's money, for closing it. */
export interface LedgerBalances {
  balanceOf(accountId: string): Promise<LedgerBalance | undefined>;
}
