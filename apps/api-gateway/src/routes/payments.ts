import type { Request, Response, Router } from 'express';
import type { paymentV1 } from '@bank/contracts';
import { IDEMPOTENCY_KEY_PATTERN, MAX_WAIT_SECONDS } from '@bank/payments-core';
import { RemoteCallError } from '@bank/platform';
import { authenticate, callerOf, operatorOf, type TokenVerifier } from '../http/auth-token';
import { pageQuery, pathId, queryId, readBody } from '../http/input';
import { ProblemError } from '../http/problem';
import { requestIdOf } from '../http/request-id';
import { PEER_CALL_TIMEOUT_MS, type Peers } from '../peers';
import { depositView, paymentView } from './views';

/** How long a repeat of a key still running should wait before it tries again. */
export const IDEMPOTENCY_RETRY_AFTER_S = 1;
/** RFC 7240's wait preference: `Prefer: wait=N`, seconds. */
const PREFER_WAIT = /(?:^|[,;\s])wait=(\d{1,6})(?:$|[,;\s])/i;

/** API.md: required on payments and deposits, 1–255 printable ASCII characters. */
function requiredKey(req: Request): string {
  const key = req.header('Idempotency-Key');
  if (key === undefined || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new ProblemError('IDEMPOTENCY_KEY_REQUIRED', 'an Idempotency-Key header of 1 to 255 printable ASCII characters is required', [{ field: 'Idempotency-Key', message: 'required: 1 to 255 printable ASCII characters' }]);
  }
  return key;
}

function preferredWaitSeconds(req: Request): number {
  const match = PREFER_WAIT.exec(req.header('Prefer') ?? '');
  return match ? Math.min(Number(match[1]), MAX_WAIT_SECONDS) : 0;
}

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
  const auth = authenticate(verifier);

  router.post('/payments', auth, async (req, res) => {
    const who = callerOf(res);
    const idempotencyKey = requiredKey(req);
    const body = readBody(req, { sourceAccountId: 'string', destinationAccountId: 'string', amount: 'amount', currency: 'string', description: 'optional-string' });
    const waitSeconds = preferredWaitSeconds(req);
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

  router.get('/payments', auth, async (req, res) => {
    const who = callerOf(res);
    const accountId = queryId(req, 'accountId');
    const { limit, cursor } = pageQuery(req);
    const page = await peers.call<paymentV1.ListPaymentsResponse>((md, o, cb) => peers.payment.listPayments({ accountId, limit, cursor }, md, o, cb), who, requestIdOf(res));
    res.json({ data: page.payments.map(paymentView), nextCursor: page.nextCursor || null });
  });

  router.get('/payments/:id', auth, async (req, res) => {
    const who = callerOf(res);
    const p = await peers.call<paymentV1.Payment>((md, o, cb) => peers.payment.getPayment({ paymentId: pathId(req) }, md, o, cb), who, requestIdOf(res));
    res.json(paymentView(p));
  });

  router.post('/payments/:id/cancel', auth, async (req, res) => {
    const who = callerOf(res);
    readBody(req, {});
    const p = await peers.call<paymentV1.Payment>((md, o, cb) => peers.payment.cancelPayment({ paymentId: pathId(req) }, md, o, cb), who, requestIdOf(res));
    res.json(paymentView(p));
  });

  router.post('/admin/deposits', auth, async (req, res) => {
    const who = operatorOf(req, res);
    const idempotencyKey = requiredKey(req);
    const body = readBody(req, { accountId: 'string', amount: 'amount', currency: 'string', reference: 'string' });
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
