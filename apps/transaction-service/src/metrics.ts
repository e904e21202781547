import { Counter, Histogram, type Registry } from 'prom-client';
import type { BatchReport } from '@bank/ledger-core';
import { LATENCY_BUCKETS_SECONDS, secondsOf } from '@bank/platform';

/** Transfers per batch: one call's few up to LEDGER_BATCH_MAX_TRANSFERS (8,000). */
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 8_000];

/** The ledger's batches as Prometheus sees them: size, commit latency, outcomes (a split is a replay). */
export function ledgerBatchMetrics(registry: Registry): (report: BatchReport) => void {
  const size = new Histogram({ name: 'ledger_batch_transfers', help: 'Transfers per ledger batch (one database transaction)', buckets: BATCH_SIZE_BUCKETS, registers: [registry] });
  const commit = new Histogram({ name: 'ledger_batch_commit_seconds', help: "Time of a ledger batch's database transaction, by outcome", labelNames: ['outcome'], buckets: LATENCY_BUCKETS_SECONDS, registers: [registry] });
  const batches = new Counter({ name: 'ledger_batches_total', help: 'Ledger batches by outcome: committed, split (a refused value: each call replayed on its own) or failed', labelNames: ['outcome'], registers: [registry] });
  return (r) => {
    size.observe(r.transfers);
    commit.observe({ outcome: r.outcome }, secondsOf(r.durationMs));
    batches.inc({ outcome: r.outcome });
  };
}
