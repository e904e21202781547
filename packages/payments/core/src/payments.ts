import { DomainError, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, MAX_CURSOR_LENGTH, assert, fieldError, isCurrency, isOperator, isUuid, newId, requireActor, type Caller, type Clock, type Currency } from '@bank/kernel';
import {
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_RETENTION_MS,
  MAX_DEPOSIT_REFERENCE_LENGTH,
  MAX_DESCRIPTION_LENGTH,
  MAX_WAIT_SECONDS,
  depositTransferId,
  fingerprintOf,
  paymentTransferIds,
  type Deposit,
  type IdempotencyRecord,
  type Payment,
  type PaymentStatus,
} from './model';
import type { AccountDirectory, AccountInfo, PaymentLedger, PaymentPage, PaymentStore } from './ports';
import { failureCodeOf, isTerminal, nextAction, onBarrier, onCapture, onCheck, onHold, onStepFailed, onVoid, requestCancel, resumeSaga, STEP_DEADLINE_MS } from './saga';
import { Waiters } from './waiters';

/** A transition that lost a race to a concurrent one is re-read and re-decided this often per drive. */
export const MAX_DRIVE_ROUNDS = 20;
/** Sagas and deposits taken up per sweep. */
export const SWEEP_BATCH_SIZE = 100;
/** Idempotency records deleted per purge statement. */
export const PURGE_BATCH_SIZE = 1_000;
/** The first request of a key holds it at least this long (plus its wait) before a repeat may take over. */
export const IDEMPOTENCY_LOCK_MS = 10_000;
/**
 * A deposit to an account the ledger does not know yet (its account.opened event is on the way)
 * is tried again this often, for at most this long, before it is refused.
 */
export const DEPOSIT_ACCOUNT_RETRY_MS = 100;
export const DEPOSIT_ACCOUNT_WAIT_MS = 5_000;
/**
 * Payments this process saw end are remembered (the most recent this many), so that the events
 * that echo a finished saga (payment.requested, transfer.*) cost no read.
 */
export const ENDED_MEMORY_SIZE = 10_000;
/** A cancel waits this long for its compensation before it answers with the payment as it is (pending). */
export const CANCEL_WAIT_MS = 3_000;
/** The largest amount the public API carries (a JSON safe integer). */
export const MAX_API_AMOUNT = BigInt(Number.MAX_SAFE_INTEGER);

export interface PaymentsOptions {
  /** Lifetime of a payment's hold in the ledger: the last line of defence if the saga stops. */
  readonly holdTimeoutSeconds: number;
  /** A user's outgoing payments per currency and UTC day may not sum past this (minor units). */
  readonly dailyLimitMinor: bigint;
  /** Where a failed background drive is reported (it is retried by the sweeper). */
  readonly onDriveError?: (paymentId: string, error: unknown) => void;
  /**
   * Called at the edges of every step (`before:hold`, `after:hold`, ... `after:capture`): the
   * crash tests' failpoints, where payment-service can be made to die on purpose. Unset in use.
   */
  readonly failpoint?: (name: string) => void;
}

export interface PaymentInput {
  readonly idempotencyKey: string;
  readonly sourceAccountId: string;
  readonly destinationAccountId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly description: string;
  /** How long the answer may wait for the saga to end (0: at once). */
  readonly waitSeconds: number;
}

export interface DepositInput {
  readonly idempotencyKey: string;
  readonly accountId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly reference: string;
}

/** What a customer sees of a payment. */
export interface PaymentView {
  readonly id: string;
  readonly sourceAccountId: string;
  readonly destinationAccountId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly description: string;
  readonly status: PaymentStatus;
  readonly failureCode: string | null;
  readonly createdAt: Date;
  readonly completedAt: Date | null;
}

export interface DepositView {
  readonly id: string;
  readonly accountId: string;
  readonly amount: bigint;
  readonly currency: string;
  readonly status: 'completed';
}

/** The answer to a create: `finished` when it waited and the payment reached its end (HTTP 201, else 202). */
export interface CreatedPayment {
  readonly payment: PaymentView;
  readonly finished: boolean;
  readonly replayed: boolean;
}

/** HTTP statuses stored with an idempotency key: the answer a repeat gets again. */
const CREATED = 201;
const ACCEPTED = 202;
const REFUSED = 422;

export function viewOf(p: Payment): PaymentView {
  return {
    id: p.id,
    sourceAccountId: p.sourceAccountId,
    destinationAccountId: p.destinationAccountId,
    amount: p.amount,
    currency: p.currency,
    description: p.description,
    status: p.status,
    failureCode: p.failureCode,
    createdAt: p.createdAt,
    completedAt: p.completedAt,
  };
}

/** A view as stored with its idempotency key (JSON: amounts as strings, times as ISO strings). */
function paymentBody(v: PaymentView): Record<string, unknown> {
  return { ...v, amount: v.amount.toString(), createdAt: v.createdAt.toISOString(), completedAt: v.completedAt?.toISOString() ?? null };
}

function paymentFromBody(body: unknown): PaymentView {
  const b = body as Record<string, string | null>;
  return {
    id: b.id as string,
    sourceAccountId: b.sourceAccountId as string,
    destinationAccountId: b.destinationAccountId as string,
    amount: BigInt(b.amount as string),
    currency: b.currency as string,
    description: b.description as string,
    status: b.status as PaymentStatus,
    failureCode: b.failureCode ?? null,
    createdAt: new Date(b.createdAt as string),
    completedAt: b.completedAt === null ? null : new Date(b.completedAt as string),
  };
}

function depositView(d: Deposit): DepositView {
  return { id: d.id, accountId: d.accountId, amount: d.amount, currency: d.currency, status: 'completed' };
}


/** A key whose first request has not answered yet and still holds its lock: the repeat must wait. */
function refuseWhileLocked(record: IdempotencyRecord, now: Date): void {
  if (now >= record.lockedUntil) return;
  const retryAfterSeconds = Math.max(1, Math.ceil((record.lockedUntil.getTime() - now.getTime()) / 1000));
  throw new DomainError('IDEMPOTENCY_KEY_IN_USE', 'the first request with this Idempotency-Key is still running', { retryAfterSeconds });
}

const notFound = (what: string) => new DomainError('NOT_FOUND', `no such ${what}`);

function checkKey(key: string): void {
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) throw fieldError('IDEMPOTENCY_KEY_REQUIRED', 'Idempotency-Key', '1 to 255 printable ASCII characters');
}

function checkAmount(amount: bigint): void {
  if (amount <= 0n || amount > MAX_API_AMOUNT) throw fieldError('INVALID_AMOUNT', 'amount', `a whole number of minor units from 1 to ${MAX_API_AMOUNT}`);
}

function checkCurrency(currency: string): asserts currency is Currency {
  if (!isCurrency(currency)) throw fieldError('UNSUPPORTED_CURRENCY', 'currency', 'not a currency the bank supports');
}

/**
 * Payments and deposits: accepting them (validation, idempotency), driving each payment's saga
 * over the ledger, cancelling, reading, and the sweeper that takes up sagas that stalled.
 */
export class Payments {
  /** One drive per payment per process; a second request to drive joins the first. */
  private readonly driving = new Map<string, Promise<Payment | undefined>>();
  /** Ids of payments seen ended here, oldest first (a Map keeps insertion order). */
  private readonly ended = new Map<string, true>();

  constructor(
    private readonly store: PaymentStore,
    private readonly ledger: PaymentLedger,
    private readonly accounts: AccountDirectory,
    private readonly clock: Clock,
    readonly waiters: Waiters,
    private readonly opts: PaymentsOptions,
  ) {}

  /**
   * A customer pays from their own account. An operator's tool (bank-cli, no user behind it)
   * pays from any customer's account on that customer's behalf: the payment is theirs (its
   * initiator, its daily limit), the idempotency key the tool's.
   */
  async create(caller: Caller, input: PaymentInput): Promise<CreatedPayment> {
    const userId = requireActor(caller);
    const onBehalf = caller.userId === undefined;
    checkKey(input.idempotencyKey);
    checkAmount(input.amount);
    checkCurrency(input.currency);
    if (!isUuid(input.sourceAccountId)) throw fieldError('VALIDATION_FAILED', 'sourceAccountId', 'must be a UUID');
    if (!isUuid(input.destinationAccountId)) throw fieldError('VALIDATION_FAILED', 'destinationAccountId', 'must be a UUID');
    const source = input.sourceAccountId.toLowerCase();
    const destination = input.destinationAccountId.toLowerCase();
    if (source === destination) throw fieldError('VALIDATION_FAILED', 'destinationAccountId', 'must differ from sourceAccountId');
    if (input.description.length > MAX_DESCRIPTION_LENGTH || input.description.includes('\u0000')) throw fieldError('VALIDATION_FAILED', 'description', `at most ${MAX_DESCRIPTION_LENGTH} characters`);
    const waitSeconds = Math.min(Math.max(0, Math.trunc(input.waitSeconds)), MAX_WAIT_SECONDS);
    const fingerprint = fingerprintOf([source, destination, input.amount, input.currency, input.description]);

    const existing = await this.store.getIdempotency(userId, 'payment', input.idempotencyKey);
    if (existing) return this.replayPayment(existing, fingerprint);

    const found = await this.accounts.find([source, destination]);
    const from = found.get(source);
    if (!from || (from.ownerId !== userId && !onBehalf)) throw notFound('source account');
    const to = found.get(destination);
    if (!to) throw notFound('destination account');
    if (from.currency !== input.currency || to.currency !== input.currency) {
      throw fieldError('CURRENCY_MISMATCH', 'currency', `the accounts hold ${from.currency} and ${to.currency}; the payment is in ${input.currency}`);
    }

    const now = this.clock.now();
    const payment: Payment = {
      id: newId(now.getTime()),
      initiatorId: from.ownerId,
      sourceAccountId: source,
      destinationAccountId: destination,
      destinationOwnerId: to.ownerId,
      amount: input.amount,
      currency: input.currency,
      description: input.description,
      status: 'pending',
      failureCode: null,
      step: 'accepted',
      stepTimes: { accepted: now.toISOString() },
      attempts: 0,
      deadlineAt: new Date(now.getTime() + STEP_DEADLINE_MS),
      holdExpiresAt: null,
      cancelRequested: false,
      createdAt: now,
      completedAt: null,
      version: 0,
    };
    // Without a wait, the answer (202, the pending payment) is known now and stored with the key.
    const record: IdempotencyRecord = {
      userId,
      scope: 'payment',
      key: input.idempotencyKey,
      fingerprint,
      resourceId: payment.id,
      responseStatus: waitSeconds === 0 ? ACCEPTED : null,
      responseBody: waitSeconds === 0 ? paymentBody(viewOf(payment)) : null,
      lockedUntil: new Date(now.getTime() + waitSeconds * 1000 + IDEMPOTENCY_LOCK_MS),
      createdAt: now,
    };
    const created = await this.store.createPayment(payment, record);
    if (!created.created) return this.replayPayment(created.existing, fingerprint);

    const settled = waitSeconds > 0 ? this.waiters.wait(payment.id, waitSeconds * 1000) : undefined;
    // The payment as stored (version 1): the saga starts without reading it back.
    this.kick(payment.id, { ...payment, version: 1 });
    if (!settled) return { payment: viewOf(payment), finished: false, replayed: false };
    // The saga that ended it here hands the payment over as saved; another replica's end is read.
    const latest = (await settled) ?? (await this.store.getPayment(payment.id)) ?? payment;
    const finished = latest.status !== 'pending';
    const view = viewOf(latest);
    await this.store.completeIdempotency(userId, 'payment', input.idempotencyKey, finished ? CREATED : ACCEPTED, paymentBody(view));
    return { payment: view, finished, replayed: false };
  }

  private async replayPayment(record: IdempotencyRecord, fingerprint: string): Promise<CreatedPayment> {
    if (record.fingerprint !== fingerprint) throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
    if (record.responseStatus !== null) return { payment: paymentFromBody(record.responseBody), finished: record.responseStatus === CREATED, replayed: true };
    refuseWhileLocked(record, this.clock.now());
    // The first request never answered (its process went): the payment as it is now is the answer.
    const p = await this.store.getPayment(record.resourceId);
    assert(p, `idempotency record names payment ${record.resourceId}, which does not exist`);
    const finished = p.status !== 'pending';
    await this.store.completeIdempotency(record.userId, 'payment', record.key, finished ? CREATED : ACCEPTED, paymentBody(viewOf(p)));
    return { payment: viewOf(p), finished, replayed: true };
  }

  /** Visible to the owners of either account and to operators; to anyone else it does not exist. */
  async get(caller: Caller, id: string): Promise<PaymentView> {
    const p = await this.visible(caller, id);
    return viewOf(p);
  }

  private async visible(caller: Caller, id: string): Promise<Payment> {
    const userId = requireActor(caller);
    if (!isUuid(id)) throw fieldError('VALIDATION_FAILED', 'paymentId', 'must be a UUID');
    const p = await this.store.getPayment(id.toLowerCase());
    if (!p || (p.initiatorId !== userId && p.destinationOwnerId !== userId && !isOperator(caller))) throw notFound('payment');
    return p;
  }

  async list(caller: Caller, accountId: string, limit: number, cursor: string): Promise<{ payments: PaymentView[]; nextCursor: string }> {
    const userId = requireActor(caller);
    if (!isUuid(accountId)) throw fieldError('VALIDATION_FAILED', 'accountId', 'must be a UUID');
    const pageSize = limit === 0 ? LIST_DEFAULT_LIMIT : limit;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > LIST_MAX_LIMIT) throw fieldError('VALIDATION_FAILED', 'limit', `must be 1 to ${LIST_MAX_LIMIT}`);
    const id = accountId.toLowerCase();
    const account = (await this.accounts.find([id])).get(id);
    if (!account || (account.ownerId !== userId && !isOperator(caller))) throw notFound('account');
    if (cursor.length > MAX_CURSOR_LENGTH) throw fieldError('VALIDATION_FAILED', 'cursor', 'malformed');
    const page: PaymentPage = await this.store.listPayments(id, pageSize, cursor);
    return { payments: page.payments.map(viewOf), nextCursor: page.nextCursor };
  }

  /** Cancels a payment not yet captured: its hold is voided. PAYMENT_NOT_CANCELLABLE after the capture. */
  async cancel(caller: Caller, id: string): Promise<PaymentView> {
    let p = await this.visible(caller, id);
    if (p.initiatorId !== requireActor(caller) && !isOperator(caller)) throw notFound('payment');
    for (let round = 0; ; round++) {
      assert(round < MAX_DRIVE_ROUNDS, `cancel of ${p.id} kept losing races`);
      const decided = requestCancel(p, this.clock.now());
      if (!decided.ok) throw new DomainError('PAYMENT_NOT_CANCELLABLE', decided.message);
      if (decided.value === p) break;
      if ((await this.store.savePayment(p, decided.value, this.opts.dailyLimitMinor)) === 'saved') break;
      p = (await this.store.getPayment(p.id)) as Payment;
    }
    // Bounded: with the ledger away the compensation finishes later (the sweeper), and the caller
    // learns so from the payment still pending rather than from a timeout.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.drive(p.id).catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS)))]);
    clearTimeout(timer);
    const after = (await this.store.getPayment(p.id)) ?? p;
    if (after.status === 'completed') throw new DomainError('PAYMENT_NOT_CANCELLABLE', `payment ${p.id} was captured before the cancel took effect`);
    return viewOf(after);
  }

  /**
   * An operator's: drives a stalled saga now, or a parked one through a new round of compensation,
   * and answers the payment as that left it (bounded as a cancel is: the sweeper goes on after).
   */
  async resume(caller: Caller, id: string): Promise<PaymentView> {
    if (!isOperator(caller)) throw notFound('payment');
    let p = await this.visible(caller, id);
    for (let round = 0; ; round++) {
      assert(round < MAX_DRIVE_ROUNDS, `resume of ${p.id} kept losing races`);
      const decided = resumeSaga(p, this.clock.now());
      if (!decided.ok) throw new DomainError(decided.code, decided.message);
      if ((await this.store.savePayment(p, decided.value, this.opts.dailyLimitMinor)) === 'saved') break;
      p = (await this.store.getPayment(p.id)) as Payment;
    }
    this.ended.delete(p.id);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.drive(p.id).catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS)))]);
    clearTimeout(timer);
    return viewOf((await this.store.getPayment(p.id)) ?? p);
  }

  /** Starts driving a payment's saga in the background; failures are left to the sweeper. */
  kick(id: string, known?: Payment): void {
    if (this.ended.has(id) || this.driving.has(id)) return;
    this.drive(id, known).catch((e: unknown) => this.opts.onDriveError?.(id, e));
  }

  /** Runs a payment's saga as far as it can go now; answers the payment as it was left. */
  drive(id: string, known?: Payment): Promise<Payment | undefined> {
    const running = this.driving.get(id);
    if (running) return running;
    const run = this.runSaga(id, known)
      .then((p) => {
        if (p && isTerminal(p)) this.rememberEnded(id);
        return p;
      })
      .finally(() => this.driving.delete(id));
    this.driving.set(id, run);
    return run;
  }

  private rememberEnded(id: string): void {
    this.ended.set(id, true);
    if (this.ended.size > ENDED_MEMORY_SIZE) this.ended.delete(this.ended.keys().next().value as string);
  }

  /** `known`: the payment as stored, when the caller has just written it (a stale one only costs a conflict). */
  private async runSaga(id: string, known?: Payment): Promise<Payment | undefined> {
    let p = known ?? (await this.store.getPayment(id));
    for (let round = 0; p !== undefined && round < MAX_DRIVE_ROUNDS; round++) {
      const action = nextAction(p);
      if (action === 'none') return p;
      this.opts.failpoint?.(`before:${action}`);
      let after = await this.perform(action, p);
      this.opts.failpoint?.(`after:${action}`);
      // The check calls no other service's write: it follows a placed hold at once, and the two
      // are saved as one transition (a crash before the save repeats the hold, which answers
      // `exists`). One save per payment fewer on the hot path.
      let held: Payment | undefined;
      if (action === 'hold' && after.step === 'hold_placed') {
        held = after;
        this.opts.failpoint?.('before:check');
        after = await this.perform('check', held);
        this.opts.failpoint?.('after:check');
      }
      const outcome = await this.store.savePayment(p, after, this.opts.dailyLimitMinor);
      if (outcome === 'limit_exceeded') {
        const refused = onCheck(held ?? p, { failureCode: 'LIMIT_EXCEEDED' }, this.clock.now());
        if ((await this.store.savePayment(p, refused, this.opts.dailyLimitMinor)) !== 'saved') {
          p = await this.store.getPayment(id);
          continue;
        }
        p = { ...refused, version: p.version + 1 };
        continue;
      }
      if (outcome === 'conflict') {
        // Someone else moved it (a cancel, another replica, the sweeper): decide again on what is stored.
        p = await this.store.getPayment(id);
        continue;
      }
      // A step that could not be performed is tried again by the sweeper at its deadline (only
      // onStepFailed counts attempts; every step that moves the saga on starts them at zero).
      const stepFailed = after.attempts > 0;
      p = { ...after, version: p.version + 1 };
      if (p.status !== 'pending' || isTerminal(p)) this.waiters.notify(id, p);
      if (stepFailed) return p;
    }
    return p;
  }

  /** Performs one step and answers the payment as the step's outcome makes it. */
  private async perform(action: Exclude<ReturnType<typeof nextAction>, 'none'>, p: Payment): Promise<Payment> {
    const ids = paymentTransferIds(p.id);
    const now = () => this.clock.now();
    try {
      switch (action) {
        case 'hold':
          return onHold(p, await this.ledger.hold(p, ids.hold, this.opts.holdTimeoutSeconds), now(), this.opts.holdTimeoutSeconds);
        case 'check':
          return onCheck(p, await this.check(p), now());
        case 'capture':
          return onCapture(p, await this.ledger.capture(p, ids.capture, ids.hold), now());
        case 'void': {
          const next = onVoid(p, await this.ledger.void(p, ids.void, ids.hold), now());
          return next === 'retry' ? onStepFailed(p, now()) : next;
        }
        case 'barrier': {
          const next = onBarrier(p, await this.ledger.barrier(p, ids.hold, ids.void), now());
          return next === 'retry' ? onStepFailed(p, now()) : next;
        }
      }
    } catch (e) {
      if (e instanceof DomainError) throw e;
      this.opts.onDriveError?.(p.id, e);
      return onStepFailed(p, now());
    }
  }

  /** The checks that need more than the ledger's hold; the daily limit is reserved when the step is saved. */
  private async check(p: Payment): Promise<'ok' | { failureCode: string }> {
    const to = (await this.accounts.find([p.destinationAccountId])).get(p.destinationAccountId);
    if (!to) return { failureCode: 'ACCOUNT_NOT_FOUND' };
    if (to.state === 'frozen') return { failureCode: 'ACCOUNT_FROZEN' };
    if (to.state === 'closed') return { failureCode: 'ACCOUNT_CLOSED' };
    if (to.currency !== p.currency) return { failureCode: 'CURRENCY_MISMATCH' };
    return 'ok';
  }

  /** What the ledger's events tell about a payment: a reply lost to a crash still advances its saga. */
  async onLedgerTransfer(paymentId: string): Promise<void> {
    // The saga is running here, or ended here: the event tells this process nothing new.
    if (this.ended.has(paymentId) || this.driving.has(paymentId)) return;
    const p = await this.store.getPayment(paymentId);
    if (p && !isTerminal(p)) this.kick(paymentId, p);
  }

  /** One round of the sweeper: stalled sagas are driven again, stalled deposits finished, old keys purged. */
  async sweep(): Promise<{ payments: number; deposits: number; purged: number }> {
    const now = this.clock.now();
    const due = (await this.store.duePayments(now, SWEEP_BATCH_SIZE)).filter((id) => !this.driving.has(id));
    await Promise.all(due.map((id) => this.drive(id).catch((e: unknown) => this.opts.onDriveError?.(id, e))));
    const deposits = await this.store.pendingDeposits(new Date(now.getTime() - IDEMPOTENCY_LOCK_MS), SWEEP_BATCH_SIZE);
    // One ledger call each, at once: a deposit whose account the ledger still lacks waits for a later sweep, not this one.
    await Promise.all(
      deposits.map(async (id) => {
        const d = await this.store.getDeposit(id);
        if (d) await this.runDeposit(d, false).catch((e: unknown) => this.opts.onDriveError?.(id, e));
      }),
    );
    const purged = await this.store.purgeIdempotency(new Date(now.getTime() - IDEMPOTENCY_RETENTION_MS), PURGE_BATCH_SIZE);
    return { payments: due.length, deposits: deposits.length, purged };
  }

  /** Money in from the bank's settlement account of the currency: operators only, idempotent by key. */
  async deposit(caller: Caller, input: DepositInput): Promise<{ deposit: DepositView; replayed: boolean }> {
    const userId = requireActor(caller);
    if (!isOperator(caller)) throw new DomainError('NOT_FOUND', 'no such route');
    checkKey(input.idempotencyKey);
    checkAmount(input.amount);
    checkCurrency(input.currency);
    if (!isUuid(input.accountId)) throw fieldError('VALIDATION_FAILED', 'accountId', 'must be a UUID');
    if (input.reference.length === 0 || input.reference.length > MAX_DEPOSIT_REFERENCE_LENGTH || input.reference.includes('\u0000')) {
      throw fieldError('VALIDATION_FAILED', 'reference', `1 to ${MAX_DEPOSIT_REFERENCE_LENGTH} characters`);
    }
    const accountId = input.accountId.toLowerCase();
    const fingerprint = fingerprintOf([accountId, input.amount, input.currency, input.reference]);
    const existing = await this.store.getIdempotency(userId, 'deposit', input.idempotencyKey);
    if (existing) return this.replayDeposit(existing, fingerprint);

    const account = (await this.accounts.find([accountId])).get(accountId);
    if (!account) throw notFound('account');
    if (account.currency !== input.currency) throw fieldError('CURRENCY_MISMATCH', 'currency', `the account holds ${account.currency}`);
    const now = this.clock.now();
    const deposit: Deposit = { id: newId(now.getTime()), operatorId: userId, accountId, ownerId: account.ownerId, amount: input.amount, currency: input.currency, reference: input.reference, status: 'pending', failureCode: null, createdAt: now };
    const record: IdempotencyRecord = { userId, scope: 'deposit', key: input.idempotencyKey, fingerprint, resourceId: deposit.id, responseStatus: null, responseBody: null, lockedUntil: new Date(now.getTime() + IDEMPOTENCY_LOCK_MS), createdAt: now };
    const created = await this.store.createDeposit(deposit, record);
    if (!created.created) return this.replayDeposit(created.existing, fingerprint);
    return { deposit: depositView(await this.runDeposit(deposit)), replayed: false };
  }

  private async replayDeposit(record: IdempotencyRecord, fingerprint: string): Promise<{ deposit: DepositView; replayed: boolean }> {
    if (record.fingerprint !== fingerprint) throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
    if (record.responseStatus === null) {
      refuseWhileLocked(record, this.clock.now());
      const d = await this.store.getDeposit(record.resourceId);
      assert(d, `idempotency record names deposit ${record.resourceId}, which does not exist`);
      return { deposit: depositView(await this.runDeposit(d)), replayed: true };
    }
    const body = record.responseBody as { code?: string; message?: string; id?: string; accountId?: string; amount?: string; currency?: string };
    if (record.responseStatus !== CREATED) throw new DomainError(body.code ?? 'OPERATION_REFUSED', body.message ?? 'the deposit was refused');
    return { deposit: { id: body.id as string, accountId: body.accountId as string, amount: BigInt(body.amount as string), currency: body.currency as string, status: 'completed' }, replayed: true };
  }

  /** Sends a deposit's transfer (again: its id makes a repeat harmless) and records the outcome. */
  private async runDeposit(d: Deposit, waitForAccount = true): Promise<Deposit> {
    let result = await this.ledger.deposit(d, depositTransferId(d.id));
    // The sweeper leaves a deposit to an account the ledger lacks pending, for a later round.
    if (!waitForAccount && result === 'credit_account_not_found') return d;
    for (let waitedMs = 0; result === 'credit_account_not_found' && waitedMs < DEPOSIT_ACCOUNT_WAIT_MS; waitedMs += DEPOSIT_ACCOUNT_RETRY_MS) {
      await new Promise((resolve) => setTimeout(resolve, DEPOSIT_ACCOUNT_RETRY_MS));
      result = await this.ledger.deposit(d, depositTransferId(d.id));
    }
    if (result === 'ok' || result === 'exists') {
      const done: Deposit = { ...d, status: 'completed' };
      const v = depositView(done);
      await this.store.finishDeposit(done, CREATED, { ...v, amount: v.amount.toString() });
      return done;
    }
    const code = failureCodeOf(result);
    const failed: Deposit = { ...d, status: 'failed', failureCode: code };
    const message = `the ledger refused the deposit: ${result}`;
    await this.store.finishDeposit(failed, REFUSED, { code, message });
    throw new DomainError(code, message);
  }
}

/**
 * user-service's account events, as payments keep them: `directory` is the projection, on the
 * consumer's transaction so that the change commits with the event's inbox row.
 */
export const accountProjection = {
  /** account.opened: payments learn the account without asking user-service. */
  async opened(directory: AccountDirectory, account: AccountInfo): Promise<void> {
    await directory.recordOpened(account);
  },
  /** account.frozen/unfrozen/closed; throws while the account is not known yet, so that the event is retried. */
  async stateChanged(directory: AccountDirectory, id: string, state: AccountInfo['state'], sequence: number): Promise<void> {
    if (!(await directory.recordState(id, state, sequence))) throw new Error(`payment account ${id} not known yet`);
  },
};
