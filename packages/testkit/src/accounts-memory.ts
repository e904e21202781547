import type { AccountChange, AccountPage, AccountStore, BankAccount, LedgerBalance, LedgerBalances, Profile } from '@bank/accounts-core';

/** A hand-written in-memory AccountStore; `events` is what the Postgres store writes to its outbox. */
export class InMemoryAccountStore implements AccountStore {
  readonly accounts = new Map<string, BankAccount>();
  readonly openKeys = new Map<string, string>();
  readonly profiles = new Map<string, Profile>();
  readonly events: AccountChange[] = [];

  async get(id: string): Promise<BankAccount | undefined> {
    return this.accounts.get(id);
  }

  async findByOpenKey(ownerId: string, key: string): Promise<BankAccount | undefined> {
    const id = this.openKeys.get(`${ownerId}\u0000${key}`);
    return id === undefined ? undefined : this.accounts.get(id);
  }

  async listByOwner(ownerId: string, limit: number, cursor: string): Promise<AccountPage> {
    const mine = [...this.accounts.values()].filter((a) => a.ownerId === ownerId && (cursor === '' || a.id > cursor)).sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = mine.slice(0, limit);
    return { accounts: page, nextCursor: mine.length > limit ? (page[page.length - 1] as BankAccount).id : '' };
  }

  async save(change: AccountChange, opts: { expectedVersion: number | null; openKey?: string }): Promise<boolean> {
    const current = this.accounts.get(change.account.id);
    if (opts.expectedVersion === null) {
      if (current) return false;
      if (opts.openKey !== undefined) {
        const key = `${change.account.ownerId}\u0000${opts.openKey}`;
        if (this.openKeys.has(key)) return false;
        this.openKeys.set(key, change.account.id);
      }
    } else if (!current || current.version !== opts.expectedVersion) {
      return false;
    }
    this.accounts.set(change.account.id, change.account);
    this.events.push(change);
    return true;
  }

  async getProfile(id: string): Promise<Profile | undefined> {
    return this.profiles.get(id);
  }

  async createProfile(profile: Profile): Promise<void> {
    if (!this.profiles.has(profile.id)) this.profiles.set(profile.id, profile);
  }

  async updateProfile(profile: Profile): Promise<void> {
    this.profiles.set(profile.id, profile);
  }
}

/** Ledger balances a test sets by hand. */
export class FakeLedgerBalances implements LedgerBalances {
  readonly balances = new Map<string, LedgerBalance>();

  async balanceOf(accountId: string): Promise<LedgerBalance | undefined> {
    return this.balances.get(accountId);
  }
}
