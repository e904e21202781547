import { TEST_CUSTOMER_PASSWORD } from '../bank';

// The harness's clients: customers and an operator going through the gateway as a front end
// would, with Idempotency-Keys and retries on timeouts. Every operation ends ok, failed (a
// definite refusal) or indeterminate (no definite answer after its retries), and is recorded.

/** A client waits this long for an answer before it counts the attempt as timed out. */
export const CLIENT_TIMEOUT_MS = 5_000;
/** Attempts per operation (the first and its retries, all with the same key). */
export const CLIENT_ATTEMPTS = 4;
const CLIENT_BACKOFF_MS = 300;
/** A Retry-After believed at most (the gateway's own answers are a few seconds). */
const MAX_RETRY_AFTER_MS = 5_000;
const CURRENCY = 'USD';

/** Deterministic random numbers (mulberry32): a seed replays the same choices. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Outcome = 'ok' | 'failed' | 'indeterminate';
export type OpKind = 'payment' | 'deposit' | 'cancel' | 'read';

export interface Operation {
  readonly kind: OpKind;
  readonly key: string;
  readonly token: string;
  readonly path: string;
  readonly body: unknown;
  outcome: Outcome;
  status: number;
  /** The resource the answer named (a payment's or deposit's id). */
  resourceId?: string;
  code?: string;
}

export interface Customer {
  readonly email: string;
  readonly token: string;
  readonly userId: string;
  readonly accounts: string[];
}

interface Reply {
  status: number;
  body: Record<string, unknown> | undefined;
  retryAfterMs: number;
}

async function call(base: string, method: string, path: string, body: unknown, token: string | undefined, headers: Record<string, string> = {}): Promise<Reply | undefined> {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await res.text();
    const retryAfterS = Number(res.headers.get('retry-after') ?? '0');
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, retryAfterMs: Math.min(Number.isFinite(retryAfterS) ? retryAfterS * 1000 : 0, MAX_RETRY_AFTER_MS) };
  } catch {
    // A timeout, a refused or reset connection: the request may or may not have been applied.
    return undefined;
  }
}

/** Answers a client retries with the same key: no answer, a server error, a key still in use, a rate limit. */
const retryable = (r: Reply | undefined) => r === undefined || r.status >= 500 || r.status === 409 && r.body?.code === 'IDEMPOTENCY_KEY_IN_USE' || r.status === 429;

/** Sends an operation until it gets a definite answer or runs out of attempts. */
export async function perform(base: string, op: Operation, attempts = CLIENT_ATTEMPTS): Promise<Operation> {
  const method = op.kind === 'read' ? 'GET' : 'POST';
  for (let attempt = 0; attempt < attempts; attempt++) {
    const r = await call(base, method, op.path, op.kind === 'read' ? undefined : op.body, op.token, op.kind === 'payment' || op.kind === 'deposit' ? { 'Idempotency-Key': op.key } : {});
    if (!retryable(r)) {
      const reply = r as Reply;
      op.status = reply.status;
      op.code = typeof reply.body?.code === 'string' ? reply.body.code : undefined;
      if (typeof reply.body?.id === 'string') op.resourceId = reply.body.id;
      // A cancel of a payment already captured is a definite answer about it, not a failure of the client.
      op.outcome = reply.status < 300 || (op.kind === 'cancel' && reply.status === 409) ? 'ok' : 'failed';
      return op;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(r?.retryAfterMs ?? 0, CLIENT_BACKOFF_MS * 2 ** attempt)));
  }
  op.outcome = 'indeterminate';
  return op;
}

/** A customer signed up, logged in, with `accounts` accounts in the workload's currency. */
export async function makeCustomer(base: string, label: string, accounts: number): Promise<Customer> {
  const email = `${label}@faults.bank.test`;
  const must = async (method: string, path: string, body: unknown, token?: string, headers?: Record<string, string>) => {
    for (let attempt = 0; attempt < CLIENT_ATTEMPTS * 2; attempt++) {
      const r = await call(base, method, path, body, token, headers);
      if (r && r.status < 300) return r.body ?? {};
      if (r && r.status < 500 && r.status !== 429) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
      await new Promise((resolve) => setTimeout(resolve, CLIENT_BACKOFF_MS * (attempt + 1)));
    }
    throw new Error(`${method} ${path} got no answer`);
  };
  const signup = await must('POST', '/v1/auth/signup', { email, password: TEST_CUSTOMER_PASSWORD, fullName: `Fault ${label}` });
  const login = await must('POST', '/v1/auth/login', { email, password: TEST_CUSTOMER_PASSWORD });
  const token = login.accessToken as string;
  const ids: string[] = [];
  for (let i = 0; i < accounts; i++) ids.push((await must('POST', '/v1/accounts', { currency: CURRENCY }, token, { 'Idempotency-Key': `${label}-acct-${i}` })).id as string);
  return { email, token, userId: signup.userId as string, accounts: ids };
}

/**
 * The next operation of a client, from its own random stream: mostly payments between the
 * customers' accounts, some deposits by the operator, cancels of the client's recent payments,
 * and reads of balances and statements.
 */
export function nextOperation(next: () => number, customers: readonly Customer[], operatorToken: string, client: number, n: number, recentPayments: string[]): Operation {
  const me = customers[client % customers.length] as Customer;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T;
  const roll = next();
  const key = `f${client}-${n}`;
  const base = { key, outcome: 'indeterminate' as Outcome, status: 0 };
  if (roll < 0.6) {
    const from = pick(me.accounts);
    const others = customers.flatMap((c) => c.accounts).filter((a) => a !== from);
    return { ...base, kind: 'payment', token: me.token, path: '/v1/payments', body: { sourceAccountId: from, destinationAccountId: pick(others), amount: 1 + Math.floor(next() * 2_000), currency: CURRENCY, description: `fault load ${key}` } };
  }
  if (roll < 0.7) return { ...base, kind: 'deposit', token: operatorToken, path: '/v1/admin/deposits', body: { accountId: pick(customers.flatMap((c) => c.accounts)), amount: 1 + Math.floor(next() * 5_000), currency: CURRENCY, reference: `fault ${key}` } };
  if (roll < 0.8 && recentPayments.length > 0) return { ...base, kind: 'cancel', token: me.token, path: `/v1/payments/${pick(recentPayments)}/cancel`, body: {} };
  const account = pick(me.accounts);
  return { ...base, kind: 'read', token: me.token, path: next() < 0.5 ? `/v1/accounts/${account}` : `/v1/accounts/${account}/transactions`, body: undefined };
}
