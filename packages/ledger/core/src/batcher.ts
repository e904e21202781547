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
  /** The accounts the call names (a hold's accounts are known only once the hold is read). */
  readonly accountIds: readonly string[];
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
  /** Accounts named by the batches in flight, with how many of them name each. */
  private readonly busy = new Map<string, number>();
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
      this.queue.push({ requests, accountIds: batchFootprint([requests]).accountIds, resolve, reject });
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

  /**
   * Takes queued calls, oldest first, into a batch that shares no account with the batches in
   * flight: two batches that name the same account would only make one of them replay (the store
   * writes optimistically). A call that must wait also holds back later calls naming its
   * accounts, so every account's calls keep their order and none waits forever.
   */
  private dispatch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0 || this.inFlight >= this.opts.maxInFlight) return;
    const batch: Waiting[] = [];
    const held = new Set<string>();
    let size = 0;
    for (let i = 0; i < this.queue.length && size < this.opts.maxTransfers; ) {
      const w = this.queue[i] as Waiting;
      const blocked = w.accountIds.some((id) => this.busy.has(id) || held.has(id));
      if (blocked || size + w.requests.length > this.opts.maxTransfers) {
        for (const id of w.accountIds) held.add(id);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      size += w.requests.length;
      batch.push(w);
    }
    if (batch.length === 0) return;
    this.queuedTransfers -= size;
    this.inFlight++;
    const accounts = new Set(batch.flatMap((w) => w.accountIds));
    for (const id of accounts) this.busy.set(id, (this.busy.get(id) ?? 0) + 1);
    void this.run(batch).finally(() => {
      for (const id of accounts) {
        const n = (this.busy.get(id) ?? 1) - 1;
        if (n === 0) this.busy.delete(id);
        else this.busy.set(id, n);
      }
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
