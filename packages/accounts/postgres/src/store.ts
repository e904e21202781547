import { OptimisticLockError, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { AccountChange, AccountPage, AccountStore, BankAccount, Profile } from '@bank/accounts-core';
import { assert, type Currency } from '@bank/kernel';
import { appendToOutbox, type Persistence, type NewEvent } from '@bank/platform';
import { BankAccountSchema, ProfileSchema, type BankAccountRow, type ProfileRow } from './entities';

function toAccount(r: BankAccountRow): BankAccount {
  return { id: r.id, ownerId: r.ownerId, currency: r.currency as Currency, status: r.status as BankAccount['status'], frozenReason: r.frozenReason, version: r.version, createdAt: new Date(r.createdAt) };
}

function toProfile(r: ProfileRow): Profile {
  return { id: r.id, email: r.email, fullName: r.fullName, phone: r.phone, createdAt: new Date(r.createdAt) };
}

function toEvent(change: AccountChange, traceparent: string): NewEvent {
  const a = change.account;
  const base = { aggregateId: a.id, traceparent };
  switch (change.event) {
    case 'account.opened':
      return { ...base, type: 'account.opened', payload: { accountId: a.id, ownerId: a.ownerId, currency: a.currency } };
    case 'account.frozen':
      return { ...base, type: 'account.frozen', payload: { accountId: a.id, reason: a.frozenReason ?? '' } };
    case 'account.unfrozen':
      return { ...base, type: 'account.unfrozen', payload: { accountId: a.id } };
    case 'account.closed':
      return { ...base, type: 'account.closed', payload: { accountId: a.id } };
  }
}

/**
 * Accounts and profiles on PostgreSQL through MikroORM: every account change is one unit of
 * work with its outbox event, and the row's version is MikroORM's optimistic lock.
 */
export class PostgresAccountStore implements AccountStore {
  constructor(private readonly db: Persistence) {}

  /**
   * Raw SQL: every balance read and every payment's projection miss reads one account, and the
   * ORM's findOne cost more CPU than the statement (npm run bench, profiled).
   */
  async get(id: string): Promise<BankAccount | undefined> {
    const { rows } = await this.db.sql.query<BankAccountRow>(
      'SELECT id, owner_id AS "ownerId", currency, status, frozen_reason AS "frozenReason", open_key AS "openKey", version, created_at AS "createdAt" FROM bank_accounts WHERE id = $1',
      [id],
    );
    return rows[0] ? toAccount(rows[0]) : undefined;
  }

  async findByOpenKey(ownerId: string, key: string): Promise<BankAccount | undefined> {
    const row = await this.db.em().findOne(BankAccountSchema, { ownerId, openKey: key });
    return row ? toAccount(row) : undefined;
  }

  async listByOwner(ownerId: string, limit: number, cursor: string): Promise<AccountPage> {
    const rows = await this.db.em().find(BankAccountSchema, cursor === '' ? { ownerId } : { ownerId, id: { $gt: cursor } }, { orderBy: { id: 'asc' }, limit: limit + 1 });
    const page = rows.slice(0, limit).map(toAccount);
    return { accounts: page, nextCursor: rows.length > limit ? (page[page.length - 1] as BankAccount).id : '' };
  }

  async save(change: AccountChange, opts: { expectedVersion: number | null; openKey?: string; traceparent?: string }): Promise<boolean> {
    const a = change.account;
    try {
      return await this.db.transaction(async (c, em) => {
        if (opts.expectedVersion === null) {
          em.create(BankAccountSchema, { id: a.id, ownerId: a.ownerId, currency: a.currency, status: a.status, frozenReason: a.frozenReason, openKey: opts.openKey ?? null, version: a.version, createdAt: a.createdAt });
          await em.flush();
        } else {
          const row = await em.findOne(BankAccountSchema, { id: a.id });
          if (!row || row.version !== opts.expectedVersion) return false;
          em.assign(row, { status: a.status, frozenReason: a.frozenReason });
          await em.flush();
          // The core numbers a change's version as the one it read plus one, as MikroORM bumps it.
          assert(row.version === a.version, `account ${a.id} saved at version ${row.version}, the change expected ${a.version}`);
        }
        await appendToOutbox(c, [toEvent(change, opts.traceparent ?? '')]);
        return true;
      });
    } catch (e) {
      // The same id or the same (owner, key) exists: a concurrent opening won. Or the row changed
      // between its read and its update: a concurrent transition won.
      if (e instanceof UniqueConstraintViolationException || e instanceof OptimisticLockError) return false;
      throw e;
    }
  }

  async getProfile(id: string): Promise<Profile | undefined> {
    const row = await this.db.em().findOne(ProfileSchema, { id });
    return row ? toProfile(row) : undefined;
  }

  /** Once per user: a second call (a redelivered user.registered) changes nothing. */
  async createProfile(p: Profile): Promise<void> {
    await this.db.em().createQueryBuilder(ProfileSchema).insert({ id: p.id, email: p.email, fullName: p.fullName, phone: p.phone, createdAt: p.createdAt }).onConflict('id').ignore().execute();
  }

  async updateProfile(p: Profile): Promise<void> {
    await this.db.em().nativeUpdate(ProfileSchema, { id: p.id }, { fullName: p.fullName, phone: p.phone });
  }
}
