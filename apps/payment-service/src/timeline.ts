import { ledgerV1, notificationV1, paymentV1 } from '@bank/contracts';
import { DomainError, isOperator, isUuid, type Caller } from '@bank/kernel';
import { paymentTransferIds, viewOf, type Payment, type PaymentStore, type PaymentView } from '@bank/payments-core';
import { GrpcCaller, RemoteCallError, createClient, listOutbox, type Database, type WorkloadIdentity } from '@bank/platform';

/** Each peer asked for a timeline answers within this. */
export const TIMELINE_PEER_TIMEOUT_MS = 3_000;
/** A payment's own events are a handful; this bounds a payment with a pathological history. */
export const MAX_TIMELINE_EVENTS = 200;
/** Email log pages read per party (newest first, back to the payment's creation). */
export const MAX_TIMELINE_EMAIL_PAGES = 5;
const EMAIL_PAGE_SIZE = 100;

type TimelineEvent = paymentV1.TimelineEvent;
const TRANSFER_STATUS: Record<number, string> = {
  [ledgerV1.TransferStatus.TRANSFER_STATUS_POSTED]: 'posted',
  [ledgerV1.TransferStatus.TRANSFER_STATUS_PENDING]: 'pending',
  [ledgerV1.TransferStatus.TRANSFER_STATUS_VOIDED]: 'voided',
  [ledgerV1.TransferStatus.TRANSFER_STATUS_EXPIRED]: 'expired',
};

/**
 * A payment's whole history for an operator, from the records of each service it went through:
 * its saga steps (here), its ledger transfers (transaction-service), its events and when they were
 * published (this outbox), and the emails they caused (notification-service). A peer that cannot
 * be asked leaves a line saying so rather than failing the whole view.
 */
export class PaymentTimeline {
  private readonly ledger: ledgerV1.LedgerServiceClient;
  private readonly notifications: notificationV1.NotificationServiceClient;
  private readonly caller = new GrpcCaller();

  constructor(
    private readonly store: PaymentStore,
    private readonly db: Database,
    addresses: { ledger: string; notification: string },
    identity: WorkloadIdentity,
  ) {
    this.ledger = createClient(ledgerV1.LedgerServiceClient, addresses.ledger, identity);
    this.notifications = createClient(notificationV1.NotificationServiceClient, addresses.notification, identity);
  }

  async of(caller: Caller, paymentId: string): Promise<{ payment: PaymentView; events: TimelineEvent[] }> {
    // Operators only; to anyone else the payment does not exist.
    if (!isOperator(caller) || !isUuid(paymentId)) throw new DomainError('PAYMENT_NOT_FOUND', 'no such payment');
    const p = await this.store.getPayment(paymentId.toLowerCase());
    if (!p) throw new DomainError('PAYMENT_NOT_FOUND', 'no such payment');
    const outbox = await listOutbox(this.db.sql, { aggregateId: p.id, limit: MAX_TIMELINE_EVENTS });
    const [transfers, emails] = await Promise.all([this.transfers(p), this.emails(p, new Set(outbox.map((e) => e.envelope.id)))]);
    const events: TimelineEvent[] = [...steps(p), ...transfers, ...emails];
    for (const { envelope, publishedAt } of outbox) {
      events.push({ at: new Date(envelope.occurredAt), source: 'payment-service', kind: `event.${envelope.type}`, detail: `event ${envelope.id} written to the outbox` });
      if (publishedAt) events.push({ at: publishedAt, source: 'payment-service', kind: 'event.published', detail: `event ${envelope.id} (${envelope.type}) published to its consumers` });
      else events.push({ at: new Date(), source: 'payment-service', kind: 'event.unpublished', detail: `event ${envelope.id} (${envelope.type}) is still waiting in the outbox` });
    }
    events.sort((a, b) => (a.at?.getTime() ?? 0) - (b.at?.getTime() ?? 0));
    return { payment: viewOf(p), events: events.slice(0, MAX_TIMELINE_EVENTS) };
  }

  private async transfers(p: Payment): Promise<TimelineEvent[]> {
    const ids = paymentTransferIds(p.id);
    const found = await Promise.all(
      (Object.entries(ids) as [keyof typeof ids, string][]).map(async ([name, id]) => {
        try {
          const view = await this.caller.unary<ledgerV1.GetTransferResponse>((md, o, cb) => this.ledger.getTransfer({ id }, md, o, cb), { timeoutMs: TIMELINE_PEER_TIMEOUT_MS });
          const t = view.transfer;
          if (!t) return [];
          const status = name === 'hold' ? `, now ${TRANSFER_STATUS[view.status] ?? 'unknown'}${view.postedAmount > 0n ? ` (${view.postedAmount} posted)` : ''}` : '';
          const what = t.pendingId ? `${name} of hold ${t.pendingId}` : `${t.amount} ${t.currency} from ${t.debitAccountId} to ${t.creditAccountId}`;
          return [{ at: t.createdAt, source: 'transaction-service', kind: `transfer.${name}`, detail: `transfer ${t.id}: ${what}${status}` }];
        } catch (e) {
          if (e instanceof RemoteCallError && e.code === 'TRANSFER_NOT_FOUND') return [];
          return [unavailable('transaction-service', `transfer ${name}`, e)];
        }
      }),
    );
    return found.flat();
  }

  private async emails(p: Payment, eventIds: ReadonlySet<string>): Promise<TimelineEvent[]> {
    const parties = [...new Set([p.initiatorId, p.destinationOwnerId])];
    const out: TimelineEvent[] = [];
    for (const userId of parties) {
      try {
        let cursor = '';
        for (let page = 0; page < MAX_TIMELINE_EMAIL_PAGES; page++) {
          const res = await this.caller.unary<notificationV1.ListNotificationsResponse>((md, o, cb) => this.notifications.listNotifications({ userId, limit: EMAIL_PAGE_SIZE, cursor }, md, o, cb), { timeoutMs: TIMELINE_PEER_TIMEOUT_MS });
          for (const n of res.notifications) {
            if (eventIds.has(n.eventId)) out.push({ at: n.createdAt, source: 'notification-service', kind: `email.${n.template}`, detail: `${n.channel} to user ${n.userId} for event ${n.eventId}: ${n.status}` });
          }
          const oldest = res.notifications[res.notifications.length - 1]?.createdAt;
          // Newest first: once a page reaches back before the payment, older pages cannot hold its emails.
          if (res.nextCursor === '' || (oldest !== undefined && oldest < p.createdAt)) break;
          cursor = res.nextCursor;
        }
      } catch (e) {
        out.push(unavailable('notification-service', `emails of user ${userId}`, e));
      }
    }
    return out;
  }

  close(): void {
    this.ledger.close();
    this.notifications.close();
  }
}

const STEP_DETAIL: Record<string, string> = {
  accepted: 'the payment was accepted',
  hold_placed: 'the amount is held on the source account',
  checked: 'the destination account passed the checks and the daily limit was reserved',
  captured: 'the hold was captured: the money moved',
  compensating: 'compensation began: the hold is to be voided',
  compensated: 'compensation ended: nothing moved',
  needs_attention: 'compensation kept failing: parked for an operator',
};

function steps(p: Payment): TimelineEvent[] {
  return Object.entries(p.stepTimes).map(([step, at]) => ({
    at: new Date(at),
    source: 'payment-service',
    kind: `step.${step}`,
    detail: `${STEP_DETAIL[step] ?? step}${step === 'compensated' || step === 'captured' ? `; status ${p.status}${p.failureCode ? ` (${p.failureCode})` : ''}` : ''}`,
  }));
}

function unavailable(source: string, what: string, e: unknown): TimelineEvent {
  return { at: new Date(), source, kind: 'unavailable', detail: `${what} could not be read: ${e instanceof Error ? e.message : String(e)}` };
}
