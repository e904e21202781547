import type BeeQueue from 'bee-queue';
import type { Transporter } from 'nodemailer';
import { deterministicId, type Clock } from '@bank/kernel';
import { backoffMs, currentTraceparent, inSpan, type AfterCommit, type Database, type EntityManager, type EventHandlers, type Logger, type Persistence, type SqlClient } from '@bank/platform';
import { AccountOwnerSchema, RecipientSchema, type DeliveryRow } from './entities';
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

/**
 * Records the email to send; a redelivered event finds its delivery there already and adds none.
 * One statement reads the recipient and inserts the row (raw SQL, on the event's transaction):
 * every payment queues two emails, and a find plus an insert each was four round trips.
 */
async function queueEmail(sql: SqlClient, now: Date, eventId: string, userId: string, template: TemplateName, data: Omit<TemplateData, 'name'>): Promise<void> {
  const { rows } = await sql.query<{ known: number }>(
    `WITH recipient AS (SELECT email, full_name FROM recipients WHERE user_id = $3),
          queued AS (
            INSERT INTO deliveries (id, event_id, user_id, template, email, data, status, attempts, created_at, traceparent)
            SELECT $1, $2, $3, $4, recipient.email, $5::jsonb || jsonb_build_object('name', recipient.full_name), 'queued', 0, $6, $7 FROM recipient
            ON CONFLICT (event_id, user_id, template) DO NOTHING)
     SELECT count(*)::int AS known FROM recipient`,
    [deliveryId(eventId, userId, template), eventId, userId, template, JSON.stringify(data), now, currentTraceparent()],
  );
  // user.registered comes first for every user; until it has arrived here, the event is retried.
  if (rows[0]?.known !== 1) throw new Error(`recipient ${userId} not known yet`);
}

async function ownerOf(em: EntityManager, accountId: string): Promise<string> {
  const owner = await em.findOne(AccountOwnerSchema, { accountId });
  if (!owner) throw new Error(`owner of account ${accountId} not known yet`);
  return owner.ownerId;
}

/**
 * The events notification-service consumes; `onQueued` wakes the dispatcher once the queued email
 * has committed with the event's inbox row (before, the dispatcher could not see it yet).
 */
export function notificationEventHandlers(clock: Clock, onQueued: AfterCommit): EventHandlers {
  type Queue = (template: TemplateName, userId: string, data: Omit<TemplateData, 'name'>) => Promise<void>;
  // Each handler writes on the consumer's unit of work, so its rows commit with the event's inbox row.
  const queued = <T>(fn: (p: T, em: EntityManager, queue: Queue) => Promise<void>) => async (p: T, e: { id: string }, tx: Persistence): Promise<AfterCommit> => {
    const now = clock.now();
    await fn(p, tx.em(), (template, userId, data) => queueEmail(tx.sql, now, e.id, userId, template, data));
    return onQueued;
  };
  return {
    'user.registered': queued(async (p, em, queue) => {
      // The latest registration of a user wins: a changed email goes to the new address.
      await em.createQueryBuilder(RecipientSchema).insert({ userId: p.userId, email: p.email, fullName: p.fullName }).onConflict('userId').merge(['email', 'fullName']).execute();
      await queue('welcome', p.userId, {});
    }),
    'account.opened': async (p, _e, tx) => {
      await tx.em().createQueryBuilder(AccountOwnerSchema).insert({ accountId: p.accountId, ownerId: p.ownerId }).onConflict('accountId').ignore().execute();
    },
    'account.frozen': queued(async (p, em, queue) => queue('account_frozen', await ownerOf(em, p.accountId), { account: p.accountId })),
    'account.closed': queued(async (p, em, queue) => queue('account_closed', await ownerOf(em, p.accountId), { account: p.accountId })),
    'payment.completed': queued(async (p, _em, queue) => {
      const money = { amount: p.amount.toString(), currency: p.currency, description: p.description };
      await queue('payment_sent', p.sourceOwnerId, { ...money, account: p.sourceAccountId, otherAccount: p.destinationAccountId });
      await queue('payment_received', p.destinationOwnerId, { ...money, account: p.destinationAccountId, otherAccount: p.sourceAccountId });
    }),
    'payment.failed': queued(async (p, _em, queue) =>
      queue('payment_failed', p.sourceOwnerId, { amount: p.amount.toString(), currency: p.currency, account: p.sourceAccountId, otherAccount: p.destinationAccountId, failureCode: p.failureCode }),
    ),
    'deposit.completed': queued(async (p, _em, queue) => queue('deposit_received', p.ownerId, { amount: p.amount.toString(), currency: p.currency, account: p.accountId })),
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
    private readonly clock: Clock,
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

  // Raw SQL here and in the sender's updates: each email passes through them (a dispatch, a
  // claim, an outcome), and the ORM's find and update cost a tenth of this service's CPU under
  // npm run bench, more than the statements.
  async dispatchOnce(): Promise<number> {
    const lostBefore = new Date(this.clock.now().getTime() - REENQUEUE_AFTER_MS);
    const { rows } = await this.db.sql.query<{ id: string }>(
      "SELECT id FROM deliveries WHERE status = 'queued' AND (enqueued_at IS NULL OR enqueued_at < $1) ORDER BY created_at LIMIT $2",
      [lostBefore, DISPATCH_BATCH_SIZE],
    );
    if (rows.length === 0) return 0;
    const jobs = rows.map((r) => this.queue.createJob({ deliveryId: r.id }).setId(r.id).retries(this.maxAttempts - 1).backoff(RETRY_STRATEGY, EMAIL_RETRY_BASE_MS));
    const errors = await this.queue.saveAll(jobs);
    const saved = rows.filter((r, i) => !errors.has(jobs[i] as BeeQueue.Job<EmailJob>)).map((r) => r.id);
    if (saved.length > 0) await this.db.sql.query('UPDATE deliveries SET enqueued_at = $2 WHERE id = ANY($1::uuid[])', [saved, this.clock.now()]);
    return saved.length;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }
}

/** What sending a claimed delivery needs of its row. */
type ClaimedDelivery = Pick<DeliveryRow, 'eventId' | 'template' | 'email' | 'data' | 'attempts' | 'traceparent'>;

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
    private readonly clock: Clock,
    private readonly transport: Transporter,
    private readonly opts: { from: string; maxAttempts: number; leaseMs: number },
    private readonly logger: Logger,
  ) {}

  async send(id: string): Promise<SendOutcome> {
    const claim = await this.claim(id);
    if (typeof claim === 'string') return claim;
    // A delivery that keeps crashing its worker (each crash a claim) is given up, not looped on.
    if (claim.attempts > this.opts.maxAttempts) {
      await this.finish(id, 'dead', `gave up after ${claim.attempts - 1} attempts`);
      return 'dead';
    }
    const message = render(claim.template, claim.data);
    try {
      // The SMTP exchange as a span of the trace the email was queued in (nodemailer has no instrumentation).
      await inSpan('smtp send', { traceparent: claim.traceparent, kind: 'client', attributes: { 'bank.delivery_id': id, 'bank.template': claim.template } }, async () => {
        await this.transport.sendMail({ from: this.opts.from, to: claim.email, subject: message.subject, text: message.text, html: message.html, messageId: messageIdOf(id) });
        this.logger.debug({ deliveryId: id, eventId: claim.eventId }, 'email accepted by the SMTP server');
      });
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
    await this.db.sql.query("UPDATE deliveries SET status = 'sent', sent_at = $2, message_id = $3, error = NULL WHERE id = $1", [id, this.clock.now(), messageIdOf(id)]);
    return 'sent';
  }

  /**
   * Takes the delivery for this worker (queued → sending, counting the attempt), or says why not.
   * One conditional UPDATE is the claim (of two workers claiming at once, the row lock lets one
   * through and the other finds the row no longer claimable): raw SQL, because the ORM's update
   * answers no row, and a locked read, a flush and a commit cost each email three round trips more.
   */
  private async claim(id: string): Promise<ClaimedDelivery | 'already-done' | 'in-flight-elsewhere'> {
    const now = this.clock.now();
    const { rows } = await this.db.sql.query<ClaimedDelivery>(
      `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, claimed_at = $2
        WHERE id = $1 AND (status = 'queued' OR (status = 'sending' AND claimed_at < $3))
        RETURNING event_id AS "eventId", template, email, data, attempts, traceparent`,
      [id, now, new Date(now.getTime() - this.opts.leaseMs)],
    );
    if (rows[0]) return rows[0];
    const { rows: seen } = await this.db.sql.query<{ status: string }>('SELECT status FROM deliveries WHERE id = $1', [id]);
    return seen[0]?.status === 'sending' ? 'in-flight-elsewhere' : 'already-done';
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
