import type { Response, Router } from 'express';
import type { paymentV1 } from '@bank/contracts';
import { RemoteCallError } from '@bank/platform';
import type { TokenVerifier } from '@bank/platform';
import { callerOf } from '../http/auth-token';
import { serve } from '../http/input';
import { OPERATIONS } from '../http/operations';
import { ProblemError } from '../http/problem';
import { requestIdOf } from '../http/request-id';
import { PEER_CALL_TIMEOUT_MS, type Peers } from '../peers';
import { depositView, paymentView } from './views';

/** How long a repeat of a key still running should wait before it tries again. */
export const IDEMPOTENCY_RETRY_AFTER_S = 1;

/** A key still in use answers 409 with Retry-After, as API.md has it. */
async function withKey<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    if (e instanceof RemoteCallError && e.code === 'IDEMPOTENCY_KEY_IN_USE') {
      throw new ProblemError('IDEMPOTENCY_KEY_IN_USE', e.message, undefined, { 'Retry-After': String(IDEMPOTENCY_RETRY_AFTER_S) });
    }
    throw e;
  }
}

function replayed(res: Response, wasReplayed: boolean): void {
  if (wasReplayed) res.setHeader('Idempotent-Replayed', 'true');
}

/** /v1/payments and /v1/admin/deposits: payment-service does the work; the gateway checks the shape. */
export function paymentRoutes(router: Router, peers: Peers, verifier: TokenVerifier): void {
  serve(router, OPERATIONS.createPayment, verifier, async ({ body, idempotencyKey, waitSeconds }, res) => {
    const who = callerOf(res);
    const created = await withKey(
      peers.call<paymentV1.CreatePaymentResponse>(
        (md, o, cb) =>
          peers.payment.createPayment(
            { idempotencyKey, sourceAccountId: body.sourceAccountId, destinationAccountId: body.destinationAccountId, amount: body.amount, currency: body.currency, description: body.description ?? '', waitSeconds },
            md,
            o,
            cb,
          ),
        who,
        requestIdOf(res),
        PEER_CALL_TIMEOUT_MS + waitSeconds * 1000,
      ),
    );
    const payment = created.payment as paymentV1.Payment;
    replayed(res, created.replayed);
    if (waitSeconds > 0 && !created.replayed) res.setHeader('Preference-Applied', `wait=${waitSeconds}`);
    res.setHeader('Location', `/v1/payments/${payment.id}`);
    res.status(created.finished ? 201 : 202).json(paymentView(payment));
  });

  serve(router, OPERATIONS.listPayments, verifier, async ({ query }, res) => {
    const who = callerOf(res);
    const page = await peers.call<paymentV1.ListPaymentsResponse>((md, o, cb) => peers.payment.listPayments({ accountId: query.accountId, limit: query.limit, cursor: query.cursor ?? '' }, md, o, cb), who, requestIdOf(res));
    res.json({ data: page.payments.map(paymentView), nextCursor: page.nextCursor || null });
  });

  serve(router, OPERATIONS.getPayment, verifier, async ({ params }, res) => {
    const who = callerOf(res);
    const p = await peers.call<paymentV1.Payment>((md, o, cb) => peers.payment.getPayment({ paymentId: params.id }, md, o, cb), who, requestIdOf(res));
    res.json(paymentView(p));
  });

  serve(router, OPERATIONS.cancelPayment, verifier, async ({ params }, res) => {
    const who = callerOf(res);
    const p = await peers.call<paymentV1.Payment>((md, o, cb) => peers.payment.cancelPayment({ paymentId: params.id }, md, o, cb), who, requestIdOf(res));
    res.json(paymentView(p));
  });

  serve(router, OPERATIONS.getPaymentTimeline, verifier, async ({ params }, res) => {
    const who = callerOf(res);
    const t = await peers.call<paymentV1.GetPaymentTimelineResponse>((md, o, cb) => peers.payment.getPaymentTimeline({ paymentId: params.id }, md, o, cb), who, requestIdOf(res));
    res.json({ payment: paymentView(t.payment as paymentV1.Payment), events: t.events.map((e) => ({ at: (e.at ?? new Date(0)).toISOString(), source: e.source, kind: e.kind, detail: e.detail })) });
  });

  serve(router, OPERATIONS.createDeposit, verifier, async ({ body, idempotencyKey }, res) => {
    const who = callerOf(res);
    const done = await withKey(
      peers.call<paymentV1.CreateDepositResponse>(
        (md, o, cb) => peers.payment.createDeposit({ idempotencyKey, accountId: body.accountId, amount: body.amount, currency: body.currency, reference: body.reference }, md, o, cb),
        who,
        requestIdOf(res),
      ),
    );
    replayed(res, done.replayed);
    res.status(201).json(depositView(done.deposit as paymentV1.Deposit));
  });
}
