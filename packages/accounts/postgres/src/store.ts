import type { AccountChange, AccountPage, AccountStore, BankAccount, Profile } from '@bank/accounts-core';
import type { Currency } from '@bank/kernel';
import { appendToOutbox, type Database, type NewEvent, type SqlClient } from '@bank/platform';

const ACCOUNT_COLUMNS = 'id, owner_id, currency, status, frozen_reason, version, created_at';
const UNIQUE_VIOLATION = '23505';

type Row = Record<string, unknown>;

function toAccount(r: Row): BankAccount {
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    currency: r.currency as Currency,
    status: r.status as BankAccount['status'],
    frozenReason: (r.frozen_reason as string | null) ?? null,
    version: Number(r.version),
    createdAt: new Date(r.created_at as string),
  };
}

function toProfile(r: Row): Profile {
  return { id: r.id as string, email: r.email as string, fullName: r.full_name as string, phone: r.phone as string, createdAt: new Date(r.created_at as string) };
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

/** Accounts and profiles on PostgreSQL; every account change commits with its outbox event. */
export class PostgresAccountStore implements AccountStore {
  constructor(private readonly db: Database) {}

  async get(id: string): Promise<BankAccount | undefined> {
    const { rows } = await this.db.sql.query(`SELECT ${ACCOUNT_COLUMNS} FROM bank_accounts WHERE id = $1`, [id]);
    return rows[0] ? toAccount(rows[0]) : undefined;
  }

  async findByOpenKey(ownerId: string, key: string): Promise<BankAccount | undefined> {
    const { rows } = await this.db.sql.query(`SELECT ${ACCOUNT_COLUMNS} FROM bank_accounts WHERE owner_id = $1 AND open_key = $2`, [ownerId, key]);
    return rows[0] ? toAccount(rows[0]) : undefined;
  }

  async listByOwner(ownerId: string, limit: number, cursor: string): Promise<AccountPage> {
    const { rows } = await this.db.sql.query(`SELECT ${ACCOUNT_COLUMNS} FROM bank_accounts WHERE owner_id = $1 AND ($2 = '' OR id > $2::uuid) ORDER BY id LIMIT $3`, [ownerId, cursor, limit + 1]);
    const page = rows.slice(0, limit).map(toAccount);
    return { accounts: page, nextCursor: rows.length > limit ? (page[page.length - 1] as BankAccount).id : '' };
  }

  async save(change: AccountChange, opts: { expectedVersion: number | null; openKey?: string; traceparent?: string }): Promise<boolean> {
    const a = change.account;
    try {
      return await this.db.transaction(async (c) => {
        if (opts.expectedVersion === null) {
          await c.query(
            `INSERT INTO bank_accounts (id, owner_id, currency, status, frozen_reason, open_key, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [a.id, a.ownerId, a.currency, a.status, a.frozenReason, opts.openKey ?? null, a.version, a.createdAt],
          );
        } else {
          const res = await c.query('UPDATE bank_accounts SET status = $2, frozen_reason = $3, version = $4 WHERE id = $1 AND version = $5', [
            a.id,
            a.status,
            a.frozenReason,
            a.version,
            opts.expectedVersion,
          ]);
          if (res.rowCount !== 1) return false;
        }
        await appendToOutbox(c, [toEvent(change, opts.traceparent ?? '')]);
        return true;
      });
    } catch (e) {
      // The same id or the same (owner, key) exists: a concurrent opening won.
      if ((e as { code?: string }).code === UNIQUE_VIOLATION) return false;
      throw e;
    }
  }

  async getProfile(id: string): Promise<Profile | undefined> {
    const { rows } = await this.db.sql.query('SELECT id, email, full_name, phone, created_at FROM profiles WHERE id = $1', [id]);
    return rows[0] ? toProfile(rows[0]) : undefined;
  }

  async createProfile(p: Profile): Promise<void> {
    await this.db.transaction((c) => this.createProfileIn(c, p));
  }

  /** In the caller's transaction: an event handler's effect commits with its inbox row. */
  private async createProfileIn(c: SqlClient, p: Profile): Promise<void> {
    await c.query('INSERT INTO profiles (id, email, full_name, phone, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING', [p.id, p.email, p.fullName, p.phone, p.createdAt]);
  }

  async updateProfile(p: Profile): Promise<void> {
    await this.db.transaction((c) => c.query('UPDATE profiles SET full_name = $2, phone = $3 WHERE id = $1', [p.id, p.fullName, p.phone]));
  }
}
