import { FULL_NAME_MAX_LENGTH } from '@bank/kernel';

export interface Profile {
  readonly id: string;
  readonly email: string;
  readonly fullName: string;
  readonly phone: string;
  readonly createdAt: Date;
}

/** E.164: a plus sign and up to fifteen digits. */
const PHONE_PATTERN = /^\+[1-9]\d{6,14}$/;

export interface ProfileUpdate {
  fullName?: string;
  phone?: string;
}

/** Validates an owner's update; returns the field problems, empty when it may be applied. */
export function profileUpdateProblems(update: ProfileUpdate): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  if (update.fullName !== undefined) {
    const name = update.fullName.trim();
    if (name.length === 0 || name.length > FULL_NAME_MAX_LENGTH) problems.push({ field: 'fullName', message: `must be 1 to ${FULL_NAME_MAX_LENGTH} characters` });
  }
  if (update.phone !== undefined && update.phone !== '' && !PHONE_PATTERN.test(update.phone)) problems.push({ field: 'phone', message: 'must be an E.164 number such as +4915112345678' });
  return problems;
}

export function applyProfileUpdate(p: Profile, update: ProfileUpdate): Profile {
  return { ...p, fullName: update.fullName?.trim() ?? p.fullName, phone: update.phone ?? p.phone };
}

/** The profile every user gets once, from user.registered: no phone until its owner adds one. */
export function newProfile(userId: string, email: string, fullName: string, now: Date): Profile {
  return { id: userId, email, fullName, phone: '', createdAt: now };
}
