import type { AccountDirectory, AccountInfo } from '@bank/payments-core';
import type { Persistence } from '@bank/platform';
import { PaymentAccountSchema, type PaymentAccountRow } from './entities';

/** Where an account missing from the projection is asked for (user-service); undefined when it does not exist. */
export type AccountSource = (id: string) => Promise<AccountInfo | undefined>;

const toInfo = (r: PaymentAccountRow): AccountInfo => ({ id: r.id, ownerId: r.ownerId, currency: r.currency, state: r.state as AccountInfo['state'] });

/**
 * user-service's accounts as payments need them, from the payments database: a projection kept
 * by account.* events, so that a payment costs no call to user-service. An account the events
 * have not brought yet (opened a moment ago) is asked of `source` and remembered.
 */
export class PostgresAccountDirectory implements AccountDirectory {
  constructor(
    private readonly db: Persistence,
    private readonly source: AccountSource,
  ) {}

  async find(ids: readonly string[]): Promise<Map<string, AccountInfo>> {
    const rows = await this.db.em().find(PaymentAccountSchema, { id: { $in: [...ids] } });
    const found = new Map(rows.map((r) => [r.id, toInfo(r)]));
    for (const id of ids.filter((i) => !found.has(i))) {
      const info = await this.source(id);
      if (!info) continue;
      found.set(id, info);
      // Remembered at version 0: any account event, earlier or later, still applies over it.
      await this.db.sql.query('INSERT INTO payment_accounts (id, owner_id, currency, state, state_version) VALUES ($1, $2, $3, $4, 0) ON CONFLICT (id) DO NOTHING', [info.id, info.ownerId, info.currency, info.state]);
    }
    return found;
  }

  async recordOpened(a: AccountInfo): Promise<void> {
    await this.db.sql.query("INSERT INTO payment_accounts (id, owner_id, currency, state, state_version) VALUES ($1, $2, $3, 'active', 0) ON CONFLICT (id) DO NOTHING", [a.id, a.ownerId, a.currency]);
  }

  async recordState(id: string, state: AccountInfo['state'], sequence: number): Promise<boolean> {
    const { rowCount } = await this.db.sql.query('UPDATE payment_accounts SET state = CASE WHEN state_version < $3 THEN $2 ELSE state END, state_version = GREATEST(state_version, $3) WHERE id = $1', [id, state, sequence]);
    return rowCount === 1;
  }
}
