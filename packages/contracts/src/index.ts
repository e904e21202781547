// Generated gRPC and message code, one namespace per proto package, so that names like `Account`
// from different services never collide.
export * as health from './gen/grpc/health/v1/health';
export * as authV1 from './gen/bank/auth/v1/auth';
export * as userV1 from './gen/bank/user/v1/user';
export * as paymentV1 from './gen/bank/payment/v1/payment';
export * as ledgerV1 from './gen/bank/transaction/v1/ledger';
export * as notificationV1 from './gen/bank/notification/v1/notification';
export * as eventsV1 from './gen/bank/events/v1/events';
export {
  CONSUMERS,
  EVENT_CATALOGUE,
  consumersOf,
  typesConsumedBy,
  isWakeUpFor,
  WAKE_UP_EVENTS,
  decodePayload,
  encodePayload,
  isEventType,
} from './events';
export type { Consumer, EventEnvelope, EventPayload, EventType } from './events';
export { DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS, SERVICE_NODE_FLAGS, defaultGrpcAddress } from './services';
export type { ServiceName } from './services';
export { WORKLOADS, authorizedRpcs, callersOf, isWorkload, rolesOfWorkload, serverOf, speaksForUsers } from './trust';
export type { Workload } from './trust';
