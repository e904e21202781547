import { assert } from '@bank/kernel';
import { applyTransfers, batchFootprint } from './apply';
import type { TransferRequest, TransferResult } from './model';
import type { LedgerStore } from './ports';
import type { Clock } from '@bank/kernel';

export interface BatcherOptions {
  /** How long the first request of a batch waits for company; 0 = the batch forms while the previous one commits. */
  readonly windowMs: number;
  /** The most transfers one database transaction carries. */
  readonly maxTransfers: number;
  /** Batches committing at once; more overlap one batch's commit with the next one's work. */
  readonly maxInFlight: number;
  readonly defaultTimeoutSeconds: number;
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
    assert(opts.maxTransfers > 0 && opts.maxInFlight > 0, 'batcher limits must be positive');
  }

  submit(requests: readonly TransferRequest[]): Promise<TransferResult[]> {
    assert(requests.length > 0 && requests.length <= this.opts.maxTransfers, 'a call must fit in one batch');
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
    try {
      const results = await this.store.transact(batchFootprint(groups), (state) => {
        // The clock is read inside, so a retried batch gets a fresh time for its holds.
        const { results: r, changes } = applyTransfers(state, groups, { now: this.clock.now(), defaultTimeoutSeconds: this.opts.defaultTimeoutSeconds });
        return { changes, value: r };
      });
      batch.forEach((w, i) => w.resolve(results[i] as TransferResult[]));
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  }
}
