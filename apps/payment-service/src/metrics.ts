import type { Registry } from 'prom-client';
import { databaseGauge, type Database } from '@bank/platform';

/** The sagas still running (by step) and parked, and the age of the oldest running one. */
const RUNNING = "step NOT IN ('captured', 'compensated', 'needs_attention')";

/**
 * Read through the partial indexes of running sagas (payments_due) and parked ones
 * (payments_parked), so a scrape costs the same however many payments have ended.
 */
export function registerSagaMetrics(registry: Registry, db: Database): void {
  databaseGauge(registry, {
    name: 'payment_sagas_running',
    help: 'Payment sagas not yet ended, by step (needs_attention: parked for an operator)',
    labelNames: ['step'],
    read: async () =>
      (await db.sql.query<{ step: string; n: string }>(`SELECT step, count(*)::text AS n FROM payments WHERE ${RUNNING} GROUP BY step UNION ALL SELECT 'needs_attention', count(*)::text FROM payments WHERE step = 'needs_attention'`)).rows.map((r) => ({ labels: { step: r.step }, value: Number(r.n) })),
  });
  databaseGauge(registry, {
    name: 'payment_saga_oldest_running_age_seconds',
    help: 'Age of the oldest payment saga not yet ended (0 when none runs)',
    read: async () => [{ value: Number((await db.sql.query<{ s: string | null }>(`SELECT EXTRACT(EPOCH FROM now() - min(created_at))::text AS s FROM payments WHERE ${RUNNING}`)).rows[0]?.s ?? 0) }],
  });
}
