import type { InvariantReport, InvariantViolation } from '@bank/ledger-core';
import type { Persistence } from '@bank/platform';
import type { Row } from './rows';

/** Violations of one kind reported by verify; the first ones tell the story. */
export const MAX_VIOLATIONS_REPORTED = 100;

/**
 * Checks the invariants with set-based queries over the whole ledger, in one REPEATABLE READ
 * snapshot so that concurrent batches cannot make a consistent ledger look inconsistent.
 */
export function verifyLedger(db: Persistence): Promise<InvariantReport> {
  return db.transaction(async (c) => {
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
