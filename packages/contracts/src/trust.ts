import * as authV1 from './gen/bank/auth/v1/auth';
import * as ledgerV1 from './gen/bank/transaction/v1/ledger';
import * as notificationV1 from './gen/bank/notification/v1/notification';
import * as paymentV1 from './gen/bank/payment/v1/payment';
import * as userV1 from './gen/bank/user/v1/user';
import * as health from './gen/grpc/health/v1/health';
import type { ServiceName } from './services';

/**
 * Every workload that holds an identity of its own: its certificate's common name. A stolen
 * identity acts as that one workload, and the table below says how little that is.
 */
export const WORKLOADS = ['api-gateway', 'auth-service', 'user-service', 'transaction-service', 'payment-service', 'notification-service', 'bank-cli'] as const;
export type Workload = (typeof WORKLOADS)[number];

export function isWorkload(name: unknown): name is Workload {
  return typeof name === 'string' && (WORKLOADS as readonly string[]).includes(name);
}

type Definition = Readonly<Record<string, { readonly path: string }>>;
type Callers<D extends Definition> = { readonly [K in keyof D]: readonly Workload[] };

const ANY_WORKLOAD = WORKLOADS;

/**
 * Who may call each RPC: the one authorization table of the bank. A call from any other
 * workload is refused with PERMISSION_DENIED before its handler runs. Typed per service, so an
 * RPC added to a proto does not compile until it is given its callers here.
 */
const TABLE = [
  {
    serves: 'auth-service',
    definition: authV1.AuthServiceService,
    callers: {
      // bank-cli seed makes users as the public signup does (the gateway rate-limits signups per address).
      signUp: ['api-gateway', 'bank-cli'],
      login: ['api-gateway'],
      refresh: ['api-gateway'],
      logout: ['api-gateway'],
      // Anyone who verifies access tokens needs the public keys.
      getJwks: ['api-gateway', 'user-service', 'transaction-service', 'payment-service', 'notification-service', 'bank-cli'],
      // Making someone an operator or admin is an operator's act, never a service's.
      setRoles: ['bank-cli'],
      getUser: ['bank-cli'],
      revokeSessions: ['bank-cli'],
      listSigningKeys: ['bank-cli'],
      rotateSigningKey: ['bank-cli'],
    } satisfies Callers<typeof authV1.AuthServiceService>,
  },
  {
    serves: 'user-service',
    definition: userV1.UserServiceService,
    callers: {
      getProfile: ['api-gateway'],
      updateProfile: ['api-gateway'],
      // bank-cli opens accounts for the customer it names (seed, an operator at the counter).
      openAccount: ['api-gateway', 'bank-cli'],
      // payment-service reads an account its projection does not have yet.
      getAccount: ['api-gateway', 'payment-service', 'bank-cli'],
      listAccounts: ['api-gateway', 'bank-cli'],
      freezeAccount: ['api-gateway'],
      unfreezeAccount: ['api-gateway'],
      closeAccount: ['api-gateway'],
    } satisfies Callers<typeof userV1.UserServiceService>,
  },
  {
    serves: 'transaction-service',
    definition: ledgerV1.LedgerServiceService,
    callers: {
      // Ledger accounts come from account.opened through the ledger's own consumer; by RPC only an operator makes them.
      createAccounts: ['bank-cli'],
      // Money moves in the payment and deposit sagas, or by an operator's hand.
      createTransfers: ['payment-service', 'bank-cli'],
      lookupAccounts: ['api-gateway', 'user-service', 'payment-service', 'bank-cli'],
      getTransfer: ['payment-service', 'bank-cli'],
      getStatement: ['api-gateway', 'bank-cli'],
      getBalanceAt: ['bank-cli'],
      verifyInvariants: ['bank-cli'],
      expireDueHolds: ['bank-cli'],
    } satisfies Callers<typeof ledgerV1.LedgerServiceService>,
  },
  {
    serves: 'payment-service',
    definition: paymentV1.PaymentServiceService,
    callers: {
      // bank-cli pays on a customer's behalf (saga trigger payment, seed): an operator's act, audited.
      createPayment: ['api-gateway', 'bank-cli'],
      getPayment: ['api-gateway', 'bank-cli'],
      listPayments: ['api-gateway'],
      // An operator compensates a saga by cancelling it (bank-cli saga compensate).
      cancelPayment: ['api-gateway', 'bank-cli'],
      createDeposit: ['api-gateway', 'bank-cli'],
      resumePayment: ['bank-cli'],
      getPaymentTimeline: ['api-gateway', 'bank-cli'],
    } satisfies Callers<typeof paymentV1.PaymentServiceService>,
  },
  {
    serves: 'notification-service',
    definition: notificationV1.NotificationServiceService,
    // payment-service reads a payment's emails for its timeline.
    callers: { listNotifications: ['bank-cli', 'payment-service'] } satisfies Callers<typeof notificationV1.NotificationServiceService>,
  },
] as const satisfies readonly { serves: ServiceName; definition: Definition; callers: Readonly<Record<string, readonly Workload[]>> }[];

const callersByPath = new Map<string, readonly Workload[]>();
const serverByService = new Map<string, Workload>();
for (const { serves, definition, callers } of TABLE) {
  for (const [name, method] of Object.entries(definition as Definition)) {
    callersByPath.set(method.path, (callers as Readonly<Record<string, readonly Workload[]>>)[name] ?? []);
    serverByService.set(serviceOfPath(method.path), serves);
  }
}
// Health is for every peer: readiness probes come from every workload that depends on another.
for (const method of Object.values(health.HealthService)) callersByPath.set(method.path, ANY_WORKLOAD);

function serviceOfPath(path: string): string {
  return path.split('/')[1] ?? '';
}

/**
 * The workloads that act for an end user, and so may forward that user's access token (which
 * each service verifies for itself): the gateway alone. Any other workload's call is its own:
 * a compromised payment-service cannot pass itself off as a user, let alone an admin.
 */
const USER_DELEGATES: readonly Workload[] = ['api-gateway'];

export function speaksForUsers(workload: Workload): boolean {
  return USER_DELEGATES.includes(workload);
}

/**
 * The roles a workload holds when it calls on its own account, with no end user behind the call:
 * payment-service reads any account its projection lacks (user-service's GetAccount, the
 * operator's view); bank-cli's certificate is the operator's grant (only an operator is issued
 * one), so its calls are an operator's. A workload not listed holds none.
 */
const WORKLOAD_ROLES: Readonly<Partial<Record<Workload, readonly string[]>>> = {
  'payment-service': ['operator'],
  'bank-cli': ['operator'],
};

export function rolesOfWorkload(workload: Workload): readonly string[] {
  return WORKLOAD_ROLES[workload] ?? [];
}

/** The workloads that may call an RPC (`/bank.transaction.v1.LedgerService/CreateTransfers`); none for an unknown one. */
export function callersOf(rpcPath: string): readonly Workload[] {
  return callersByPath.get(rpcPath) ?? [];
}

/** Every RPC the table knows, for tests that every proto's RPCs are in it. */
export function authorizedRpcs(): readonly string[] {
  return [...callersByPath.keys()];
}

/**
 * The workload that serves an RPC (`/bank.auth.v1.AuthService/Login`): whose certificate a client
 * must find at the other end. Health is served by every workload, so it names none.
 */
export function serverOf(rpcPath: string): Workload | undefined {
  return serverByService.get(serviceOfPath(rpcPath));
}
