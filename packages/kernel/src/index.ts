export {
  CURRENCY_SCALES,
  MAX_MINOR_UNITS,
  MIN_MINOR_UNITS,
  Money,
  isCurrency,
} from './money';
export type { Currency } from './money';
export { DomainError, InvariantViolation, assert, fieldError } from './errors';
export { ok, fail } from './result';
export type { Result } from './result';
export { deterministicId, isUuid, newId } from './ids';
export { ManualClock, systemClock } from './clock';
export type { Clock } from './clock';
export { OPERATOR_TOOL_ACTOR_ID, ROLES, isOperator, requireActor, requireUser } from './caller';
export type { Caller, Role } from './caller';
export { EMAIL_MAX_LENGTH, FULL_NAME_MAX_LENGTH, LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, MAX_CURSOR_LENGTH } from './limits';
export { depositIdOfReference, depositReference, paymentIdOfReference, paymentReference } from './references';
