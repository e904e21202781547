import { paymentV1 } from '@bank/contracts';
import type { DepositView, Payments, PaymentView } from '@bank/payments-core';
import type { PaymentTimeline } from './timeline';
import { callerOf, implement, type Logger, type ServiceBinding, type TokenVerifier } from '@bank/platform';

const STATUS_TO_PROTO: Record<PaymentView['status'], paymentV1.PaymentStatus> = {
  pending: paymentV1.PaymentStatus.PAYMENT_STATUS_PENDING,
  completed: paymentV1.PaymentStatus.PAYMENT_STATUS_COMPLETED,
  failed: paymentV1.PaymentStatus.PAYMENT_STATUS_FAILED,
  cancelled: paymentV1.PaymentStatus.PAYMENT_STATUS_CANCELLED,
};

export function paymentToProto(p: PaymentView): paymentV1.Payment {
  return {
    id: p.id,
    sourceAccountId: p.sourceAccountId,
    destinationAccountId: p.destinationAccountId,
    amount: p.amount,
    currency: p.currency,
    description: p.description,
    status: STATUS_TO_PROTO[p.status],
    failureCode: p.failureCode ?? '',
    createdAt: p.createdAt,
    completedAt: p.completedAt ?? undefined,
  };
}

function depositToProto(d: DepositView): paymentV1.Deposit {
  return { id: d.id, accountId: d.accountId, amount: d.amount, currency: d.currency, status: d.status };
}


/** The PaymentService gRPC adapter: translation only, every decision is the core's. */
export function paymentGrpcService(payments: Payments, timeline: PaymentTimeline, opts: { logger: Logger; verifier: TokenVerifier }): ServiceBinding {
  return implement(
    paymentV1.PaymentServiceService,
    {
      createPayment: async (req, ctx) => {
        const created = await payments.create(await callerOf(ctx), {
          idempotencyKey: req.idempotencyKey,
          sourceAccountId: req.sourceAccountId,
          destinationAccountId: req.destinationAccountId,
          amount: req.amount,
          currency: req.currency,
          description: req.description,
          // The wait ends before the caller's deadline, so the answer arrives in time.
          waitSeconds: Math.min(req.waitSeconds, Math.max(0, Math.floor((ctx.deadline.getTime() - Date.now()) / 1000) - 1)),
        });
        return { payment: paymentToProto(created.payment), replayed: created.replayed, finished: created.finished };
      },
      getPayment: async (req, ctx) => paymentToProto(await payments.get(await callerOf(ctx), req.paymentId)),
      listPayments: async (req, ctx) => {
        const page = await payments.list(await callerOf(ctx), req.accountId, req.limit, req.cursor);
        return { payments: page.payments.map(paymentToProto), nextCursor: page.nextCursor };
      },
      cancelPayment: async (req, ctx) => paymentToProto(await payments.cancel(await callerOf(ctx), req.paymentId)),
      createDeposit: async (req, ctx) => {
        const done = await payments.deposit(await callerOf(ctx), { idempotencyKey: req.idempotencyKey, accountId: req.accountId, amount: req.amount, currency: req.currency, reference: req.reference });
        return { deposit: depositToProto(done.deposit), replayed: done.replayed };
      },
      resumePayment: async (req, ctx) => paymentToProto(await payments.resume(await callerOf(ctx), req.paymentId)),
      getPaymentTimeline: async (req, ctx) => {
        const t = await timeline.of(await callerOf(ctx), req.paymentId);
        return { payment: paymentToProto(t.payment), events: t.events };
      },
    },
    opts,
  );
}
