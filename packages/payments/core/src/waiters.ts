import type { Payment } from './model';

/** The most callers that may wait for payments at once in one process; more are answered at once. */
export const MAX_WAITERS = 10_000;

/**
 * Callers waiting for a payment to end (Prefer: wait). They are woken, never polled: by the saga
 * in this process when it ends the payment, and by the store's change notification for payments
 * that another replica ended (payment-service wires that to `notify`).
 */
export class Waiters {
  private readonly waiting = new Map<string, Set<(ended?: Payment) => void>>();
  private count = 0;

  /**
   * Resolves when `notify(id)` is called or after `timeoutMs`, whichever is first: with the
   * payment as saved when the notifier had it, else undefined (look it up).
   */
  wait(id: string, timeoutMs: number): Promise<Payment | undefined> {
    if (this.count >= MAX_WAITERS) return Promise.resolve(undefined);
    return new Promise<Payment | undefined>((resolve) => {
      const set = this.waiting.get(id) ?? new Set<(ended?: Payment) => void>();
      this.waiting.set(id, set);
      this.count++;
      const done = (ended?: Payment) => {
        clearTimeout(timer);
        if (set.delete(done)) this.count--;
        if (set.size === 0) this.waiting.delete(id);
        resolve(ended);
      };
      const timer = setTimeout(() => done(), timeoutMs);
      set.add(done);
    });
  }

  /** `ended`: the payment as just saved, when the caller has it (the saga in this process). */
  notify(id: string, ended?: Payment): void {
    const set = this.waiting.get(id);
    if (set) for (const done of [...set]) done(ended);
  }

  /** Wakes every waiter: each looks at its payment again (after notifications may have been lost). */
  notifyAll(): void {
    for (const id of [...this.waiting.keys()]) this.notify(id);
  }

  get size(): number {
    return this.count;
  }
}
