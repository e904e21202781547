import bcrypt from 'bcrypt';
import { fieldError } from '@bank/kernel';
import { COMMON_PASSWORDS } from './common-passwords';

/** bcrypt reads at most 72 bytes; a longer password would be silently truncated, so it is refused. */
export const PASSWORD_MIN_BYTES = 10;
export const PASSWORD_MAX_BYTES = 72;

/** Checks a new password; returns the reason it is refused, or undefined. */
export function passwordProblem(password: string): string | undefined {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) return `must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes`;
  if (COMMON_PASSWORDS.has(password.toLowerCase())) return 'is one of the most common passwords';
  return undefined;
}

export function assertStrongPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw fieldError('WEAK_PASSWORD', 'password', problem);
}

export class PasswordHasher {
  /** Compared against when the email is unknown, so that login takes as long either way. */
  private readonly dummyHash: string;

  constructor(private readonly cost: number) {
    this.dummyHash = bcrypt.hashSync('dummy-password-for-unknown-users', cost);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.cost);
  }

  /** Compares with the stored hash, or with a dummy hash of the same cost when there is none. */
  async verify(password: string, hash: string | undefined): Promise<boolean> {
    const matches = await bcrypt.compare(password, hash ?? this.dummyHash);
    return hash !== undefined && matches;
  }
}
