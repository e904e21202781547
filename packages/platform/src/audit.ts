import { newId } from '@bank/kernel';
import type { SqlClient } from './db';

/** One page of `bank-cli audit list` per service. */
export const AUDIT_PAGE_SIZE = 500;
/** An operator's reason, as recorded. */
export const MAX_AUDIT_REASON_LENGTH = 500;
const REDACTED = '[redacted]';
/** Argument names whose values are never recorded. */
const SECRET_ARGUMENT = /pass(word)?|secret|token|key$|credential/i;

export interface OperatorAction {
  readonly osUser: string;
  readonly reason: string;
  readonly command: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly ok: boolean;
  readonly result: unknown;
}

export interface AuditRow extends OperatorAction {
  readonly id: string;
  readonly at: Date;
}

/** The arguments as recorded: a value under a secret-sounding name is replaced. */
export function redactArguments(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([name, value]) => [name, SECRET_ARGUMENT.test(name) ? REDACTED : value]));
}

/** Records what an operator did to this database's service (operator_audit, platform's migration). */
export async function recordOperatorAction(sql: SqlClient, action: OperatorAction, at: Date = new Date()): Promise<string> {
  const id = newId(at.getTime());
  const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  await sql.query('INSERT INTO operator_audit (id, at, os_user, reason, command, arguments, ok, result) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb)', [
    id,
    at,
    action.osUser,
    action.reason.slice(0, MAX_AUDIT_REASON_LENGTH),
    action.command,
    json(redactArguments(action.arguments)),
    action.ok,
    json(action.result ?? null),
  ]);
  return id;
}

/** What operators did here since `since`, oldest first, at most AUDIT_PAGE_SIZE rows. */
export async function listOperatorActions(sql: SqlClient, since: Date): Promise<AuditRow[]> {
  const { rows } = await sql.query<{ id: string; at: Date; os_user: string; reason: string; command: string; arguments: Record<string, unknown>; ok: boolean; result: unknown }>(
    'SELECT id, at, os_user, reason, command, arguments, ok, result FROM operator_audit WHERE at >= $1 ORDER BY at, id LIMIT $2',
    [since, AUDIT_PAGE_SIZE],
  );
  return rows.map((r) => ({ id: r.id, at: new Date(r.at), osUser: r.os_user, reason: r.reason, command: r.command, arguments: r.arguments, ok: r.ok, result: r.result }));
}
