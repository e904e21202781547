import { randomBytes } from 'node:crypto';
import { TransferFlags, type BatchChanges, type LedgerEvent } from '@bank/ledger-core';
import { BATCH_ROW_TYPE, outboxBatchRow, type NewEvent } from '@bank/platform';
import type { QueryConfig } from 'pg';
import { arrayLiteral, numbers, texts, times, uuids } from './arrays';
import { TRANSFER_COLUMNS } from './rows';

/**
 * A fresh row version: random rather than counted, so that no two writes, in this process or any
 * other, give an account the same version, and a batch decided on a write that failed can never
 * find "its" version in the database.
 */
export function newVersion(): string {
  return (randomBytes(8).readBigUInt64BE() >> 2n).toString();
}


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
 * check turns a shortfall into a serialization failure that undoes the whole statement; the fence
 * (ledger_fence) undoes it when this process no longer holds the writer's lease.
 */
export function batchWrite(ch: BatchChanges, versions: ReadonlyMap<string, string>, version: string, fenceToken: bigint | undefined): QueryConfig {
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
    SELECT ledger_expect_updated($42::int, (SELECT count(*) FROM upd_accounts)), ledger_fence($44::bigint)`,
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
      fenceToken === undefined ? null : fenceToken.toString(),
    ],
  };
}

