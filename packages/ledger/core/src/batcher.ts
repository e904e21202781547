import { assert } from '@bank/kernel';
import { applyTransfers, batchFootprint } from './apply';
import type { TransferRequest, TransferResult } from './model';
import { BatchRefused, type LedgerStore } from './ports';
import { DomainError, type Clock } from '@bank/kernel';

/** The code of a call refused because the batcher's queue is full: the ledger is behind, retry later. */
export const LEDGER_OVERLOADED = 'LEDGER_OVERLOADED';
/** The code of a call to a transaction-service that is not the ledger's writer (a standby, or one fenced out): retry against the active one. */
export const LEDGER_NOT_ACTIVE = 'LEDGER_NOT_ACTIVE';

export interface BatcherOptions {
  /** How long the first request of a batch waits for company; 0 = the batch forms while the previous one commits. */
  readonly windowMs: number;
  /** The most transfers one database transaction carries. */
  readonly maxTransfers: number;
  /** Batches committing at once; more overlap one batch's commit with the next one's work. */
  readonly maxInFlight: number;
  /**
   * Transfers that may wait for a batch; a call beyond it is refused at once (LEDGER_OVERLOADED)
   * instead of queueing behind a database that is slow or away, where its caller's deadline
   * would pass anyway and the queue would grow without bound.
   */
  readonly maxQueuedTransfers: number;
  readonly defaultTimeoutSeconds: number;
  /** Told of each batch once it ended: for the service's metrics. */
  readonly onBatch?: (report: BatchReport) => void;
}

/**
 * One batch's end: how many transfers and calls it carried, how long its transaction took, and
 * whether it committed, was split (a call's bad value refused it, so each call is run again on its
 * own: a replay) or failed.
 */
export interface BatchReport {
  readonly transfers: number;
  readonly calls: number;
  readonly durationMs: number;
  readonly outcome: 'committed' | 'split' | 'failed';
}

interface Waiting {
  readonly requests: readonly TransferRequest[];
  resolve(results: TransferResult[]): void;
  reject(error: unknown): void;
}

/**
 * Coalesces concurrent CreateTransfers calls into few database transactions, the way TigerBeetle
 * batches: while a batch commits, the next one fills, so a hot account costs one row lock per
 * batch instead of one per transfer, and the database sees a handful of multi-row statements.
 */
export class TransferBatcher {
  private readonly queue: Waiting[] = [];
  private queuedTransfers = 0;
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: LedgerStore,
    private readonly clock: Clock,
    private readonly opts: BatcherOptions,
  ) {
    assert(opts.maxTransfers > 0 && opts.maxInFlight > 0 && opts.maxQueuedTransfers >= opts.maxTransfers, 'batcher limits must be positive and the queue hold a batch');
  }

  submit(requests: readonly TransferRequest[]): Promise<TransferResult[]> {
    assert(requests.length > 0 && requests.length <= this.opts.maxTransfers, 'a call must fit in one batch');
    if (this.queuedTransfers + requests.length > this.opts.maxQueuedTransfers) {
      return Promise.reject(new DomainError(LEDGER_OVERLOADED, `the ledger has ${this.queuedTransfers} transfers waiting; retry later`));
    }
    return new Promise<TransferResult[]>((resolve, reject) => {
      this.queue.push({ requests, resolve, reject });
      this.queuedTransfers += requests.length;
      this.schedule();
    });
  }


  private schedule(): void {
    if (this.inFlight >= this.opts.maxInFlight) return;
    if (this.queuedTransfers >= this.opts.maxTransfers || this.opts.windowMs === 0) {
      this.dispatch();
      return;
    }
    this.timer ??= setTimeout(() => this.dispatch(), this.opts.windowMs);
  }

  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0 || this.inFlight >= this.opts.maxInFlight) return;
    const batch: Waiting[] = [];
    let size = 0;
    while (this.queue.length > 0 && size + (this.queue[0] as Waiting).requests.length <= this.opts.maxTransfers) {
      const w = this.queue.shift() as Waiting;
      size += w.requests.length;
      batch.push(w);
    }
    this.queuedTransfers -= size;
    this.inFlight++;
    void this.run(batch).finally(() => {
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async run(batch: readonly Waiting[]): Promise<void> {
    const groups = batch.map((w) => w.requests);
    const startedMs = performance.now();
    const report = (outcome: BatchReport['outcome']) => {
      try {
        this.opts.onBatch?.({ transfers: groups.reduce((n, g) => n + g.length, 0), calls: groups.length, durationMs: performance.now() - startedMs, outcome });
      } catch {
        // What observes a batch must never change its outcome for the callers.
      }
    };
    try {
      const results = await this.store.transact(batchFootprint(groups), (state) => {
        // The clock is read inside, so a retried batch gets a fresh time for its holds.
        const { results: r, changes } = applyTransfers(state, groups, { now: this.clock.now(), defaultTimeoutSeconds: this.opts.defaultTimeoutSeconds });
        return { changes, value: r };
      });
      report('committed');
      batch.forEach((w, i) => w.resolve(results[i] as TransferResult[]));
    } catch (e) {
      // One call's bad value must not fail the other callers it shared a batch with: each is
      // tried on its own, and only the one that brought the value fails.
      if (e instanceof BatchRefused && batch.length > 1) {
        report('split');
        await Promise.all(batch.map((w) => this.run([w])));
        return;
      }
      report('failed');
      for (const w of batch) w.reject(e);
    }
  }
}
