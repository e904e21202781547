import type BeeQueue from 'bee-queue';
import type { Transporter } from 'nodemailer';
import { deterministicId } from '@bank/kernel';
import { backoffMs, type AfterCommit, type Database, type EventHandlers, type Logger, type Persistence, type SqlClient } from '@bank/platform';
import { render, type TemplateData, type TemplateName } from './templates';

// notification-service as a transaction script: events become delivery rows (one per event,
// recipient and template) in the inbox transaction; a dispatcher puts each row on the `email`
// queue; the worker claims the row, sends, and records the outcome.

/** Rows put on the queue per dispatch round. */
export const DISPATCH_BATCH_SIZE = 500;
/** A queued row that has not been sent this long after it was put on the queue is put there again (a lost job). */
export const REENQUEUE_AFTER_MS = 60_000;
export const DISPATCH_POLL_MS = 500;
/** Back-off of an email's retries: doubles from the base, with jitter (half to all of the step). */
export const EMAIL_RETRY_BASE_MS = 1_000;
export const EMAIL_RETRY_MAX_MS = 60_000;
export const EMAIL_QUEUE = 'email';
export const RETRY_STRATEGY = 'jittered-exponential';
/** Deliveries listed per page of the notification log. */
export const LOG_MAX_PAGE = 100;

export interface EmailJob {
  readonly deliveryId: string;
}

const DELIVERY_NAMESPACE = 'bank.notifications.delivery';

/** The key of "at most one email per event, recipient and template"; also the email's Message-ID. */
export function deliveryId(eventId: string, userId: string, template: TemplateName): string {
  return deterministicId(DELIVERY_NAMESPACE, `${eventId}:${userId}:${template}`);
}

export const messageIdOf = (id: string): string => `<${id}@notifications.bank.local>`;

async function queueEmail(client: SqlClient, eventId: string, userId: string, template: TemplateName, data: Omit<TemplateData, 'name'>): Promise<void> {
  const { rows } = await client.query<{ email: string; full_name: string }>('SELECT email, full_name FROM recipients WHERE user_id = $1', [userId]);
  const recipient = rows[0];
  // user.registered comes first for every user; until it has arrived here, the event is retried.
  if (!recipient) throw new Error(`recipient ${userId} not known yet`);
  await client.query(
    `INSERT INTO deliveries (id, event_id, user_id, template, email, data, status) VALUES ($1, $2, $3, $4, $5, $6, 'queued')
     ON CONFLICT (event_id, user_id, template) DO NOTHING`,
    [deliveryId(eventId, userId, template), eventId, userId, template, recipient.email, JSON.stringify({ ...data, name: recipient.full_name })],
  );
}

async function ownerOf(client: SqlClient, accountId: string): Promise<string> {
  const { rows } = await client.query<{ owner_id: string }>('SELECT owner_id FROM account_owners WHERE account_id = $1', [accountId]);
  if (!rows[0]) throw new Error(`owner of account ${accountId} not known yet`);
  return rows[0].owner_id;
}

/**
 * The events notification-service consumes; `onQueued` wakes the dispatcher once the queued email
 * has committed with the event's inbox row (before, the dispatcher could not see it yet).
 */
export function notificationEventHandlers(onQueued: AfterCommit): EventHandlers {
  // The delivery log is this service's own rows, written with raw statements on the consumer's transaction.
  const queued = <T>(fn: (p: T, e: { id: string }, c: SqlClient) => Promise<void>) => async (p: T, e: { id: string }, tx: Persistence): Promise<AfterCommit> => {
    await fn(p, e, tx.sql);
    return onQueued;
  };
  return {
    'user.registered': queued(async (p, e, c) => {
      await c.query('INSERT INTO recipients (user_id, email, full_name) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, full_name = EXCLUDED.full_name', [p.userId, p.email, p.fullName]);
      await queueEmail(c, e.id, p.userId, 'welcome', {});
    }),
    'account.opened': async (p, _e, tx) => {
      await tx.sql.query('INSERT INTO account_owners (account_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [p.accountId, p.ownerId]);
    },
    'account.frozen': queued(async (p, e, c) => queueEmail(c, e.id, await ownerOf(c, p.accountId), 'account_frozen', { account: p.accountId })),
    'account.closed': queued(async (p, e, c) => queueEmail(c, e.id, await ownerOf(c, p.accountId), 'account_closed', { account: p.accountId })),
    'payment.completed': queued(async (p, e, c) => {
      const money = { amount: p.amount.toString(), currency: p.currency, description: p.description };
      await queueEmail(c, e.id, p.sourceOwnerId, 'payment_sent', { ...money, account: p.sourceAccountId, otherAccount: p.destinationAccountId });
      await queueEmail(c, e.id, p.destinationOwnerId, 'payment_received', { ...money, account: p.destinationAccountId, otherAccount: p.sourceAccountId });
    }),
    'payment.failed': queued(async (p, e, c) =>
      queueEmail(c, e.id, p.sourceOwnerId, 'payment_failed', { amount: p.amount.toString(), currency: p.currency, account: p.sourceAccountId, otherAccount: p.destinationAccountId, failureCode: p.failureCode }),
    ),
    'deposit.completed': queued(async (p, e, c) => queueEmail(c, e.id, p.ownerId, 'deposit_received', { amount: p.amount.toString(), currency: p.currency, account: p.accountId })),
  };
}

/**
 * A retry's delay: exponential in the attempts so far, with jitter so that retries of many jobs
 * spread out. bee-queue asks before it counts the failure, so the retries left say the attempt.
 */
export function jitteredExponential(maxAttempts: number): (job: BeeQueue.Job<EmailJob>) => number {
  return (job) => backoffMs(maxAttempts - 1 - (job.options.retries ?? 0), EMAIL_RETRY_BASE_MS, EMAIL_RETRY_MAX_MS);
}

/**
 * Puts queued deliveries on the email queue, each as a job whose id is the delivery's (bee-queue
 * keeps one job per id, so putting a row there twice makes one job). Rows whose job got lost
 * (Redis lost it, a crash between the two) are put there again after REENQUEUE_AFTER_MS.
 */
export class EmailDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly db: Database,
    private readonly queue: BeeQueue<EmailJob>,
    private readonly maxAttempts: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.nudge(), DISPATCH_POLL_MS);
  }

  /** Dispatches soon: on the next turn of the event loop, or after the round in progress. */
  nudge(): void {
    if (this.round) {
      this.again = true;
      return;
    }
    this.round = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => void (await this.dispatchOnce()))
      .catch((err: unknown) => this.logger.warn({ err }, 'email dispatch failed; will retry'))
      .finally(() => {
        this.round = undefined;
        if (this.again) {
          this.again = false;
          this.nudge();
        }
      });
  }

  async dispatchOnce(): Promise<number> {
    const { rows } = await this.db.sql.query<{ id: string }>(
      `SELECT id FROM deliveries WHERE status = 'queued' AND (enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => $1::double precision / 1000))
       ORDER BY created_at LIMIT $2`,
      [REENQUEUE_AFTER_MS, DISPATCH_BATCH_SIZE],
    );
    if (rows.length === 0) return 0;
    const jobs = rows.map((r) => this.queue.createJob({ deliveryId: r.id }).setId(r.id).retries(this.maxAttempts - 1).backoff(RETRY_STRATEGY, EMAIL_RETRY_BASE_MS));
    const errors = await this.queue.saveAll(jobs);
    const saved = rows.filter((r, i) => !errors.has(jobs[i] as BeeQueue.Job<EmailJob>)).map((r) => r.id);
    await this.db.sql.query('UPDATE deliveries SET enqueued_at = now() WHERE id = ANY($1::uuid[])', [saved]);
    return saved.length;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }
}

export type SendOutcome = 'sent' | 'already-done' | 'in-flight-elsewhere' | 'transient' | 'permanent' | 'dead';

/** SMTP 5xx is permanent (the address does not exist, the message is refused); anything else may pass later. */
function isPermanent(error: unknown): boolean {
  const code = (error as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/**
 * Sends one delivery. The row is claimed first (queued → sending, counting the attempt), so two
 * workers never send the same email; a claim older than the lease belongs to a worker that died
 * mid-send and is taken over. The one window for a duplicate: a crash after the SMTP server
 * accepted the message and before the row says sent (the Message-ID then shows it is one).
 */
export class EmailSender {
  constructor(
    private readonly db: Database,
    private readonly transport: Transporter,
    private readonly opts: { from: string; maxAttempts: number; leaseMs: number },
    private readonly logger: Logger,
  ) {}

  async send(id: string): Promise<SendOutcome> {
    const { rows } = await this.db.sql.query<{ email: string; template: TemplateName; data: TemplateData; attempts: number }>(
      `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, claimed_at = now()
        WHERE id = $1 AND (status = 'queued' OR (status = 'sending' AND claimed_at < now() - make_interval(secs => $2::double precision / 1000)))
        RETURNING email, template, data, attempts`,
      [id, this.opts.leaseMs],
    );
    const claim = rows[0];
    if (!claim) {
      const { rows: current } = await this.db.sql.query<{ status: string }>('SELECT status FROM deliveries WHERE id = $1', [id]);
      return current[0]?.status === 'sending' ? 'in-flight-elsewhere' : 'already-done';
    }
    // A delivery that keeps crashing its worker (each crash a claim) is given up, not looped on.
    if (claim.attempts > this.opts.maxAttempts) {
      await this.finish(id, 'dead', `gave up after ${claim.attempts - 1} attempts`);
      return 'dead';
    }
    const message = render(claim.template, claim.data);
    try {
      await this.transport.sendMail({ from: this.opts.from, to: claim.email, subject: message.subject, text: message.text, html: message.html, messageId: messageIdOf(id) });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      if (isPermanent(e)) {
        await this.finish(id, 'failed', reason);
        this.logger.warn({ deliveryId: id, reason }, 'email refused permanently');
        return 'permanent';
      }
      await this.db.sql.query("UPDATE deliveries SET status = 'queued', error = $2 WHERE id = $1 AND status = 'sending'", [id, reason]);
      return 'transient';
    }
    await this.db.sql.query("UPDATE deliveries SET status = 'sent', sent_at = now(), message_id = $2, error = NULL WHERE id = $1", [id, messageIdOf(id)]);
    return 'sent';
  }

  /** The last attempt failed for a reason that may pass: the email is dead-lettered. */
  async giveUp(id: string, reason: string): Promise<void> {
    await this.finish(id, 'dead', reason);
  }

  private async finish(id: string, status: 'failed' | 'dead', reason: string): Promise<void> {
    await this.db.sql.query('UPDATE deliveries SET status = $2, error = $3 WHERE id = $1', [id, status, reason]);
  }
}

/**
 * The email queue's worker: a transient failure (and a delivery still in flight elsewhere) is
 * retried by bee-queue with back-off until the budget is spent, then dead-lettered.
 */
export function processEmails(queue: BeeQueue<EmailJob>, sender: EmailSender, concurrency: number): void {
  void queue.process(concurrency, async (job) => {
    const outcome = await sender.send(job.data.deliveryId);
    if (outcome !== 'transient' && outcome !== 'in-flight-elsewhere') return outcome;
    if ((job.options.retries ?? 0) > 0) throw new Error(`email ${job.data.deliveryId}: ${outcome}; retrying`);
    if (outcome === 'transient') await sender.giveUp(job.data.deliveryId, 'retries exhausted');
    return outcome;
  });
}
