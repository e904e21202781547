import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { WORKLOADS, serverOf, type Workload } from '@bank/contracts';
import { createClient, issueLocalIdentities, loadIdentity, type WorkloadIdentity } from '@bank/platform';

/**
 * The tests' PKI: one CA and a certificate per workload, made once per run by jest's global setup
 * (setup.ts) and shared by every suite, so a test can act as any workload: as the gateway to
 * reach user-service, as bank-cli to move money by hand, as the wrong one to be refused.
 */
export const TEST_TLS_DIR = path.join(os.tmpdir(), `bank-test-tls-${process.getuid?.() ?? 'user'}`);

export function ensureTestIdentities(): Promise<void> {
  return issueLocalIdentities(TEST_TLS_DIR, WORKLOADS);
}

const cache = new Map<Workload, WorkloadIdentity>();

export function testIdentity(name: Workload): WorkloadIdentity {
  let identity = cache.get(name);
  if (!identity) {
    identity = loadIdentity(TEST_TLS_DIR, name);
    cache.set(name, identity);
  }
  return identity;
}

/**
 * Who a test acts as by default when it calls a service: a workload the authorization table lets
 * make that service's everyday calls (the gateway for the customer-facing services, the operator's
 * tool for the ledger and notifications). A test of the table itself names its caller instead.
 */
const DEFAULT_CALLER: Readonly<Partial<Record<Workload, Workload>>> = {
  'auth-service': 'api-gateway',
  'user-service': 'api-gateway',
  'payment-service': 'api-gateway',
  'transaction-service': 'bank-cli',
  'notification-service': 'bank-cli',
};

type ClientCtor<C> = Parameters<typeof createClient<C & grpc.Client>>[0];

/** A client of the service `ctor` talks to, as `as` or as that service's usual caller. */
export function testClient<C extends grpc.Client>(ctor: ClientCtor<C>, address: string, as?: Workload): C {
  const first = Object.values(ctor.service)[0];
  const server = first ? serverOf(first.path) : undefined;
  const caller = as ?? (server ? DEFAULT_CALLER[server] : undefined) ?? 'bank-cli';
  return createClient(ctor, address, testIdentity(caller)) as C;
}
