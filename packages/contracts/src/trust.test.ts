import * as grpc from '@grpc/grpc-js';
import { WORKLOADS, authorizedRpcs, callersOf, serverOf } from './trust';
import * as authV1 from './gen/bank/auth/v1/auth';
import * as ledgerV1 from './gen/bank/transaction/v1/ledger';
import * as notificationV1 from './gen/bank/notification/v1/notification';
import * as paymentV1 from './gen/bank/payment/v1/payment';
import * as userV1 from './gen/bank/user/v1/user';

// Every RPC of every proto is in the authorization table, with at least one caller, and the
// callers the issue names for the dangerous ones are exactly those.

const SERVICES: readonly grpc.ServiceDefinition[] = [authV1.AuthServiceService, userV1.UserServiceService, ledgerV1.LedgerServiceService, paymentV1.PaymentServiceService, notificationV1.NotificationServiceService];

describe('the authorization table', () => {
  it('names callers for every RPC of every bank proto, and a serving workload for every service', () => {
    const rpcs = SERVICES.flatMap((s) => Object.values(s).map((m) => m.path));
    expect(rpcs.length).toBeGreaterThanOrEqual(27);
    for (const path of rpcs) {
      expect([path, authorizedRpcs().includes(path), callersOf(path).length > 0]).toEqual([path, true, true]);
      expect(serverOf(path)).toBeDefined();
    }
    expect(callersOf('/bank.transaction.v1.LedgerService/NoSuchRpc')).toEqual([]);
  });

  it('lets only payment-service and the operator tool move money, only the operator tool grant roles', () => {
    expect([...callersOf(ledgerV1.LedgerServiceService.createTransfers.path)].sort()).toEqual(['bank-cli', 'payment-service']);
    expect(callersOf(ledgerV1.LedgerServiceService.createAccounts.path)).toEqual(['bank-cli']);
    expect(callersOf(authV1.AuthServiceService.setRoles.path)).toEqual(['bank-cli']);
    expect(callersOf(ledgerV1.LedgerServiceService.createTransfers.path)).not.toContain('api-gateway');
    // Health is for every workload; nothing else is.
    expect(callersOf('/grpc.health.v1.Health/Check')).toEqual(WORKLOADS);
  });
});
