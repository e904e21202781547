export { MAX_FREEZE_REASON_LENGTH, close, freeze, openAccount, unfreeze } from './account';
export type { AccountChange, AccountEventType, AccountStatus, BankAccount, LedgerBalance, TransitionError } from './account';
export { applyProfileUpdate, newProfile, profileUpdateProblems } from './profile';
export type { Profile, ProfileUpdate } from './profile';
export { Accounts, MAX_OPEN_KEY_LENGTH, MAX_TRANSITION_ATTEMPTS } from './accounts';
export type { AccountPage, AccountStore, LedgerBalances } from './ports';
export type { OpenedAccount } from './accounts';
